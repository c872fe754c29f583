"""Warm pool instances, which moto 5.2.1 does not have (tests/release_warm_pool.rs).

moto keeps a warm pool's configuration (PutWarmPool, DeleteWarmPool) and answers DescribeWarmPool
with it and no instances. AWS keeps instances in the pool; this module models them, each
behaviour as AWS documents it:

1. The pool holds MinSize instances at least; without MaxGroupPreparedCapacity it holds the
   group's max size minus its desired capacity, with it that value minus desired capacity
   ("If a value for MaxGroupPreparedCapacity is not specified, Amazon EC2 Auto Scaling launches
   and maintains the difference between the group's maximum capacity and its desired
   capacity"). Refilled after every change that can leave it short (PutWarmPool, a capacity
   change, a draw, a termination); never shrunk here (AWS may terminate a surplus later).
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_WarmPoolConfiguration.html
2. A pool instance is launched from the group's launch template (or configuration) as it is at
   that moment, and keeps it: a later launch template version starts new instances from the new
   image and leaves existing pool instances as they are (updating them takes an instance refresh).
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#update-warm-pool
3. Once warmed it waits in the pool state (PoolState, default Stopped): `Warmed:Stopped`,
   `Warmed:Running` or `Warmed:Hibernated` (the EC2 instance is stopped for Stopped and
   Hibernated). Launch lifecycle hooks and the `Warmed:Pending` stage are not modelled: the
   instance is warmed at once.
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html
4. A scale-out draws warmed pool instances into service first ("Whenever your application needs
   to scale out, the Auto Scaling group can draw on the warm pool to meet its new desired
   capacity"), oldest first, and launches from the launch setting only for the rest; a drawn
   instance is started and enters the group InService (its image is the one it was launched
   with), then the pool refills.
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html
5. TerminateInstanceInAutoScalingGroup on a pool instance terminates it (desired capacity is not
   touched: pool instances are not part of it), and the pool refills.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
6. DescribeWarmPool lists the pool's instances with their lifecycle state, health, zone, type
   and launch template, a page of MaxRecords (default and most 50) at a time with NextToken;
   DescribeAutoScalingGroups reports WarmPoolConfiguration and WarmPoolSize.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingGroup.html
7. DeleteWarmPool terminates the pool's instances with the pool.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteWarmPool.html

Not modelled: ReuseOnScaleIn (instances the group scales in are terminated, never returned to
the pool), Warmed:Pending, warm pool lifecycle hooks, the pool's own health checks, a suspended
Launch process holding back the pool's launches.

Installed by moto_guard.py beside aws_shapes.py (MOTO_AWS_BEHAVIOURS=1: `Moto::behaving`).
"""

from aws_behaviours import _lock  # one lock with the behaviours' ticker: no lock-order deadlock

PAGE = 50


def _pool(group) -> list:
    pool = getattr(group, "warm_pool_instances", None)
    if pool is None:
        pool = []
        group.warm_pool_instances = pool
    return pool


def _target_size(group) -> int:
    config = group.warm_pool
    if config is None:
        return 0
    prepared = config.max_group_prepared_capacity
    prepared = int(prepared) if prepared is not None and int(prepared) >= 0 else int(group.max_size or 0)
    return max(int(config.min_size or 0), prepared - int(group.desired_capacity or 0))


def _state(group) -> str:
    return "Warmed:" + (group.warm_pool.pool_state or "Stopped")


def _launch_template_spec(group) -> dict | None:
    template = group.ec2_launch_template
    if template is None:
        return None
    return {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
            "Version": str(group.launch_template_version)}


def _refill(group) -> None:
    """Launches pool instances from the launch setting as it is now, up to the pool's size."""
    from moto.autoscaling.models import ASG_NAME_TAG

    pool = _pool(group)
    missing = _target_size(group) - len(pool)
    if missing <= 0:
        return
    template = None
    if group.ec2_launch_template is not None:
        template = {"LaunchTemplateId": group.ec2_launch_template.id}
    subnet = group.vpc_zone_identifier.split(",")[0] if group.vpc_zone_identifier else None
    try:
        reservation = group.autoscaling_backend.ec2_backend.run_instances(
            group.image_id, missing, group.user_data, group.security_groups,
            instance_type=group.instance_type,
            tags={"instance": {ASG_NAME_TAG: group.name}},
            placement=group.availability_zones[0],
            launch_config=group.launch_config, launch_template=template,
            is_instance_type_default=False, subnet_id=subnet)
    except Exception:  # a launch that fails (deregistered image) leaves the pool short
        return
    state = _state(group)
    spec = _launch_template_spec(group)
    for instance in reservation.instances:
        if state != "Warmed:Running":
            instance.stop()
        pool.append({"instance": instance, "state": state, "launch_template": spec})


def _draw(group, count: int) -> int:
    """Moves up to `count` warmed pool instances into service; returns how many."""
    from moto.autoscaling.models import InstanceState

    pool = _pool(group)
    drawn = 0
    while drawn < count and pool:
        entry = pool.pop(0)
        instance = entry["instance"]
        instance.start()
        instance.autoscaling_group = group
        group.instance_states.append(InstanceState(
            instance, protected_from_scale_in=group.new_instances_protected_from_scale_in))
        drawn += 1
    return drawn


def _find(backend, instance_id: str):
    for group in backend.autoscaling_groups.values():
        for entry in _pool(group):
            if entry["instance"].id == instance_id:
                return group, entry
    return None, None


def install() -> None:
    from moto.autoscaling import models as asg
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    group_cls, backend_cls = asg.FakeAutoScalingGroup, asg.AutoScalingBackend
    group_cls.warm_pool_size = property(lambda self: len(_pool(self)) if self.warm_pool else None)

    inner_replace = group_cls.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self, count_needed, propagated_tags):
        with _lock:
            drawn = _draw(self, count_needed) if getattr(self, "warm_pool", None) is not None else 0
            if count_needed - drawn > 0:
                inner_replace(self, count_needed - drawn, propagated_tags)

    group_cls.replace_autoscaling_group_instances = replace_autoscaling_group_instances

    def refilling(action):
        def handler(self, *args, **kwargs):
            with _lock:
                result = action(self, *args, **kwargs)
                for group in self.autoscaling_groups.values():
                    if group.warm_pool is not None:
                        _refill(group)
                return result

        return handler

    for name in ("put_warm_pool", "set_desired_capacity", "change_capacity", "update_auto_scaling_group",
                 "detach_instances", "enter_standby_instances", "exit_standby_instances"):
        if hasattr(backend_cls, name):
            setattr(backend_cls, name, refilling(getattr(backend_cls, name)))

    inner_terminate = backend_cls.terminate_instance

    def terminate_instance(self, instance_id, should_decrement):
        with _lock:
            group, entry = _find(self, instance_id)
            if entry is None:
                result = inner_terminate(self, instance_id, should_decrement)
                for g in self.autoscaling_groups.values():
                    if g.warm_pool is not None:
                        _refill(g)
                return result
            _pool(group).remove(entry)
            instance = entry["instance"]
            instance.autoscaling_group = group
            self.ec2_backend.terminate_instances([instance.id])
            _refill(group)
            return asg.TerminateInstanceActivity(instance, group.desired_capacity)

    backend_cls.terminate_instance = terminate_instance

    inner_delete = backend_cls.delete_warm_pool

    def delete_warm_pool(self, group_name):
        with _lock:
            group = self.describe_auto_scaling_groups([group_name])[0]
            ids = [e["instance"].id for e in _pool(group)]
            if ids:
                self.ec2_backend.terminate_instances(ids)
            group.warm_pool_instances = []
            return inner_delete(self, group_name)

    backend_cls.delete_warm_pool = delete_warm_pool

    def describe_warm_pool(self):
        name = self._get_param("AutoScalingGroupName")
        size = int(self._get_param("MaxRecords") or PAGE)
        size = max(1, min(size, PAGE))
        start = int(self._get_param("NextToken") or 0)
        with _lock:
            group = self.autoscaling_backend.describe_auto_scaling_groups([name])[0]
            entries = list(_pool(group)) if group.warm_pool is not None else []
        page = entries[start:start + size]
        instances = []
        for e in page:
            i = e["instance"]
            item = {"InstanceId": i.id, "InstanceType": i.instance_type,
                    "AvailabilityZone": i.placement, "LifecycleState": e["state"],
                    "HealthStatus": "Healthy", "ProtectedFromScaleIn": False}
            if e["launch_template"]:
                item["LaunchTemplate"] = e["launch_template"]
            instances.append(item)
        result = {"WarmPoolConfiguration": group.warm_pool, "Instances": instances}
        if start + size < len(entries):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    AutoScalingResponse.describe_warm_pool = describe_warm_pool
