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
5. A pool instance is terminated through EC2 (TerminateInstances), and the pool refills ("you
   can terminate existing instances in the warm pool. Amazon EC2 Auto Scaling immediately starts
   launching new instances to replace the instances that you terminated"; desired capacity is
   not touched: pool instances are not part of it). TerminateInstanceInAutoScalingGroup "cannot
   be called on instances in a warm pool": refused here with a ValidationError (AWS does not
   document the error's code or text).
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#update-warm-pool
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
6. DescribeWarmPool lists the pool's instances with their lifecycle state, health, zone, type
   and launch template, a page of MaxRecords (default and most 50) at a time with NextToken;
   DescribeAutoScalingGroups reports WarmPoolConfiguration and WarmPoolSize.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingGroup.html
7. DeleteWarmPool terminates the pool's instances with the pool.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteWarmPool.html
8. With an instance reuse policy (`InstanceReusePolicy.ReuseOnScaleIn`), "instances in the Auto
   Scaling group can be returned to the warm pool on scale in" (the default "is to terminate
   instances in the Auto Scaling group when the group scales in"): an instance the group scales
   in (SetDesiredCapacity / UpdateAutoScalingGroup lowering desired capacity) is drained as
   before (aws_behaviours.py), then stopped and put back in the pool, keeping its image, instead
   of terminated. TerminateInstanceInAutoScalingGroup is no scale-in: it terminates ("You can't
   connect to or start an instance after you've terminated it"), with or without decrement.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceReusePolicy.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html

Not modelled: Warmed:Pending, warm pool lifecycle hooks, the pool's own health checks, a
suspended Launch process holding back the pool's launches, AWS shrinking a pool larger than its
size (after instances were returned to it), the launch template of a returned instance in
DescribeWarmPool (left out).

Installed by moto_guard.py beside aws_shapes.py (MOTO_AWS_BEHAVIOURS=1: `Moto::behaving`).
"""

import aws_behaviours
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


def _reuses_on_scale_in(group) -> bool:
    policy = getattr(group.warm_pool, "instance_reuse_policy", None) if group.warm_pool else None
    value = (policy or {}).get("ReuseOnScaleIn")
    return value is True or str(value).lower() == "true"


def _find(backend, instance_id: str):
    for group in backend.autoscaling_groups.values():
        for entry in _pool(group):
            if entry["instance"].id == instance_id:
                return group, entry
    return None, None


def install() -> None:
    from moto.autoscaling import models as asg
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult
    from moto.ec2.models.instances import InstanceBackend

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
            if entry is not None:
                raise ValidationError(f"The instance {instance_id} is in the warm pool of {group.name}: "
                                      "TerminateInstanceInAutoScalingGroup cannot be called on it")
            result = inner_terminate(self, instance_id, should_decrement)
            for g in self.autoscaling_groups.values():
                if g.warm_pool is not None:
                    _refill(g)
            return result

    backend_cls.terminate_instance = terminate_instance

    inner_terminate_ec2 = InstanceBackend.terminate_instances

    def terminate_instances(self, instance_ids):
        # A pool instance terminated through EC2 leaves the pool, which refills.
        with _lock:
            backend = asg.autoscaling_backends[self.account_id][self.region_name]
            emptied = []
            for instance_id in instance_ids:
                group, entry = _find(backend, instance_id)
                if entry is not None:
                    _pool(group).remove(entry)
                    emptied.append(group)
            result = inner_terminate_ec2(self, instance_ids)
            for group in emptied:
                _refill(group)
            return result

    InstanceBackend.terminate_instances = terminate_instances

    inner_stop = aws_behaviours._stop
    inner_start_leaving = aws_behaviours._start_leaving
    scaled_in = set()

    def start_leaving(group, state, cause):
        if cause == "scale-in":
            scaled_in.add(state.instance.id)
        return inner_start_leaving(group, state, cause)

    def stop(group, instance_id):
        # Scaled in with ReuseOnScaleIn: back to the pool instead of terminated.
        if instance_id in scaled_in:
            scaled_in.discard(instance_id)
            if getattr(group, "warm_pool", None) is not None and _reuses_on_scale_in(group):
                state = next((s for s in group.instance_states if s.instance.id == instance_id), None)
                if state is not None:
                    group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]
                    pool_state = _state(group)
                    if pool_state != "Warmed:Running":
                        state.instance.stop()
                    _pool(group).append({"instance": state.instance, "state": pool_state, "launch_template": None})
                    aws_behaviours._event("returned_to_warm_pool", group.region, instance_id, group=group.name)
                    return
        return inner_stop(group, instance_id)

    aws_behaviours._start_leaving = start_leaving
    aws_behaviours._stop = stop

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
