//! Image lookups made at the same time share one DescribeImages call.
//!
//! Terraform refreshes resources in parallel (ten at a time by default) and each refresh of an
//! `immutable_image` asks about one AMI. While a DescribeImages call is on its way, the lookups
//! that arrive queue up and leave together in the next call: no timer, so a lone lookup is not
//! delayed, and a busy plan makes a handful of calls instead of one per image. That saves round
//! trips and the account's EC2 request budget, which every tool in the account shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::types::Image;
use tokio::sync::oneshot;

use super::{AwsError, ErrorContext};

/// Ids per call; DescribeImages takes more, but a failed call then costs more to retry.
const MAX_IDS_PER_CALL: usize = 100;

type Answer = Result<Option<Image>, AwsError>;

pub struct ImageReads {
    ec2: aws_sdk_ec2::Client,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// A task is draining `waiting`; new lookups only need to join the queue.
    draining: bool,
    waiting: Vec<(String, oneshot::Sender<Answer>)>,
}

impl ImageReads {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Arc<Self> {
        Arc::new(ImageReads {
            ec2,
            pending: Mutex::new(Pending::default()),
        })
    }

    /// The image `id`, or `None` when AWS does not know it.
    pub async fn get(self: &Arc<Self>, id: &str) -> Answer {
        let mut answers = self.get_all(&[id]).await;
        answers.pop().expect("one answer per id")
    }

    /// Each of `ids`, in order: queued together, so they leave in the same call.
    pub async fn get_all(self: &Arc<Self>, ids: &[&str]) -> Vec<Answer> {
        let mut receivers = Vec::with_capacity(ids.len());
        let start_drain = {
            let mut p = self.pending.lock().expect("pending image reads");
            for id in ids {
                let (tx, rx) = oneshot::channel();
                p.waiting.push((id.to_string(), tx));
                receivers.push((*id, rx));
            }
            !std::mem::replace(&mut p.draining, true)
        };
        if start_drain {
            // A task of its own, so a caller that gives up (Terraform cancelled) does not strand
            // the lookups queued behind it.
            let me = self.clone();
            tokio::spawn(async move { me.drain().await });
        }
        let mut answers = Vec::with_capacity(receivers.len());
        for (id, rx) in receivers {
            answers.push(rx.await.unwrap_or_else(|_| {
                Err(AwsError::new(
                    "DescribeImages",
                    id,
                    "the lookup was abandoned (the provider is shutting down)",
                ))
            }));
        }
        answers
    }

    async fn drain(&self) {
        // If this task dies (a panic, the runtime shutting down), the next lookup must still be
        // able to start a new one.
        let mut reset = ResetDraining {
            pending: &self.pending,
            armed: true,
        };
        loop {
            let batch: Vec<(String, oneshot::Sender<Answer>)> = {
                let mut p = self.pending.lock().expect("pending image reads");
                if p.waiting.is_empty() {
                    // Under the same lock as the check, so no lookup can slip in between.
                    p.draining = false;
                    reset.armed = false;
                    return;
                }
                let n = p.waiting.len().min(MAX_IDS_PER_CALL);
                p.waiting.drain(..n).collect()
            };
            let mut ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            ids.sort();
            ids.dedup();
            let found = self.describe(&ids).await;
            for (id, tx) in batch {
                let answer = match &found {
                    Ok(images) => Ok(images.get(&id).cloned()),
                    Err(e) => Err(e.clone()),
                };
                let _ = tx.send(answer);
            }
        }
    }

    async fn describe(&self, ids: &[String]) -> Result<HashMap<String, Image>, AwsError> {
        match self.call(ids).await {
            Err(e) if e.code_starts_with("InvalidAMIID") && ids.len() > 1 => {
                // AWS fails the whole call when one id is unknown; ask about each on its own so
                // one deleted image does not hide the others.
                let mut all = HashMap::new();
                for id in ids {
                    match self.call(std::slice::from_ref(id)).await {
                        Ok(found) => all.extend(found),
                        Err(e) if e.code_starts_with("InvalidAMIID") => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(all)
            }
            Err(e) if e.code_starts_with("InvalidAMIID") => Ok(HashMap::new()),
            other => other,
        }
    }

    async fn call(&self, ids: &[String]) -> Result<HashMap<String, Image>, AwsError> {
        let target = if ids.len() == 1 {
            ids[0].clone()
        } else {
            format!("{} images", ids.len())
        };
        let out = self
            .ec2
            .describe_images()
            .set_image_ids(Some(ids.to_vec()))
            .send()
            .await
            .context("DescribeImages", &target)?;
        Ok(out
            .images()
            .iter()
            .filter_map(|i| Some((i.image_id()?.to_string(), i.clone())))
            .collect())
    }
}

struct ResetDraining<'a> {
    pending: &'a Mutex<Pending>,
    armed: bool,
}

impl Drop for ResetDraining<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(mut p) = self.pending.lock() {
            p.draining = false;
        }
    }
}
