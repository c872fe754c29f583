//! A background watcher of a region's groups while terraform runs: it can mark every instance
//! of an image Unhealthy as soon as it appears (a release whose new instances never pass their
//! health checks) and record the fewest healthy in-service capacity units a group had (the
//! floor a release must hold). One thread polls moto until the watch is stopped or dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Moto;

/// What to do on each poll; build it, then [`Watching::start`].
#[derive(Debug, Clone, Default)]
pub struct Watching {
    unhealthy_image: Option<String>,
    floor_of: Option<String>,
}

/// What a watch saw of the group given to [`Watching::floor_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    /// The fewest healthy `InService` capacity units (an instance's `WeightedCapacity`, 1
    /// without one) at any read; `u32::MAX` when nothing was read.
    pub lowest_healthy_units: u32,
    /// How many times the group was read.
    pub reads: usize,
}

impl Watching {
    /// Marks every instance of `image` in the region Unhealthy as soon as it appears.
    pub fn unhealthy(image: &str) -> Watching {
        Watching::default().mark_unhealthy(image)
    }

    /// Records the fewest healthy in-service units of `group`.
    pub fn floor(group: &str) -> Watching {
        Watching::default().floor_of(group)
    }

    pub fn mark_unhealthy(mut self, image: &str) -> Watching {
        self.unhealthy_image = Some(image.to_string());
        self
    }

    pub fn floor_of(mut self, group: &str) -> Watching {
        self.floor_of = Some(group.to_string());
        self
    }

    pub fn start(self, moto: &Moto, region: &str) -> GroupWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, endpoint, region) = (stop.clone(), moto.endpoint(), region.to_string());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let asg = crate::autoscaling_client(&endpoint, &region);
            let ec2 = crate::ec2_client(&endpoint, &region);
            let mut seen = Watched {
                lowest_healthy_units: u32::MAX,
                reads: 0,
            };
            while !flag.load(Ordering::SeqCst) {
                rt.block_on(async {
                    if let Some(image) = &self.unhealthy_image {
                        mark_unhealthy(&asg, &ec2, image).await;
                    }
                    if let Some(group) = &self.floor_of {
                        if let Some(units) = healthy_units(&asg, group).await {
                            seen.lowest_healthy_units = seen.lowest_healthy_units.min(units);
                            seen.reads += 1;
                        }
                    }
                });
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        GroupWatch {
            stop,
            thread: Some(thread),
        }
    }
}

async fn mark_unhealthy(asg: &aws_sdk_autoscaling::Client, ec2: &aws_sdk_ec2::Client, image: &str) {
    let Ok(out) = ec2
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("image-id")
                .values(image)
                .build(),
        )
        .send()
        .await
    else {
        return;
    };
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        let _ = asg
            .set_instance_health()
            .instance_id(i.instance_id().unwrap_or_default())
            .health_status("Unhealthy")
            .send()
            .await;
    }
}

/// The group's healthy `InService` units now, `None` when the read failed.
async fn healthy_units(asg: &aws_sdk_autoscaling::Client, group: &str) -> Option<u32> {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .ok()?;
    let units = out
        .auto_scaling_groups()
        .first()?
        .instances()
        .iter()
        .filter(|i| {
            i.lifecycle_state().map(|s| s.as_str()) == Some("InService")
                && i.health_status() == Some("Healthy")
        })
        .map(|i| {
            i.weighted_capacity().map_or(1, |w| {
                w.parse::<u32>()
                    .unwrap_or_else(|_| panic!("a weight that is a number: {w}"))
            })
        })
        .sum();
    Some(units)
}

/// A running watch: [`GroupWatch::stop`] ends it and says what it saw; dropping it ends it too.
pub struct GroupWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Watched>>,
}

impl GroupWatch {
    pub fn stop(mut self) -> Watched {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("a watch is stopped once");
        thread.join().expect("the watch thread")
    }
}

impl Drop for GroupWatch {
    fn drop(&mut self) {
        // Only after a panic elsewhere would the thread's own panic matter: ignored then.
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = t.join();
        }
    }
}
