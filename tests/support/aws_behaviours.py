"""AWS behaviours moto 5.2.1 lacks, patched into moto's own models inside the moto_server
process, so the provider's real SDK calls meet them end to end.

Installed by moto_guard.py when MOTO_AWS_BEHAVIOURS=1 (support/moto.rs: `Moto::behaving`, used
by tests/release_behaviour.rs); every other test binary gets plain moto. Why here and not in the
fault proxy: these behaviours are state (an instance held in Terminating:Wait, a target draining
for its delay, an image gone), which moto's models already hold; a proxy would have to rewrite
every Describe answer to fake it.

What AWS does, and what this layer makes moto do:

1. An instance the group terminates itself (TerminateInstanceInAutoScalingGroup, or a scale-in
   by SetDesiredCapacity / UpdateAutoScalingGroup) is first deregistered from the group's target
   groups and drained for their deregistration delay, then held in `Terminating:Wait` by each
   `autoscaling:EC2_INSTANCE_TERMINATING` hook until CompleteLifecycleAction (CONTINUE or
   ABANDON) or the heartbeat timeout (then the hook's DefaultResult), then terminated.
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html (steps 4-6)
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LifecycleHook.html
   moto terminates at once, and answers CompleteLifecycleAction with HTTP 500.
2. A new instance of a group with an `autoscaling:EC2_INSTANCE_LAUNCHING` hook waits in
   `Pending:Wait` until the hook completes (ABANDON terminates it and the group launches
   another), and is registered with its target groups only when it goes InService.
   (same overview page, steps 1-3)
3. A deregistering target is `draining` for the target group's
   `deregistration_delay.timeout_seconds`, then `unused`; DetachInstances deregisters too, but
   runs no termination hook.
   https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/detach-instance-asg.html
   moto never deregisters a group's targets.
4. A deregistered AMI cannot be launched: RunInstances fails with `InvalidAMIID.Unavailable`,
   and a group's launch fails as a scaling activity (StatusCode Failed), the group short.
   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeregisterImage.html
   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
   moto launches deregistered AMIs.
5. A launch template image `resolve:ssm:<parameter>` launches the AMI the parameter names at
   launch time. https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html
   moto would launch an instance whose ImageId is the literal `resolve:ssm:...` string.

Not modelled: classic load balancer connection draining, warm pools, Instance Refresh, global
timeouts, RecordLifecycleActionHeartbeat tokens (instance ids only).

Every step is written as one JSON line to MOTO_BEHAVIOUR_LOG (support/behaviours.rs reads it):
what a test asserts, e.g. that no instance stopped while still registered or draining.
"""

import json
import os
import threading
import time

TICK_SECONDS = 0.1
# AWS's default heartbeat timeout (one hour; moto stores the same default on the hook).
DEFAULT_HEARTBEAT_SECONDS = 3600
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# States in which an instance counts toward desired capacity (moto counts only InService, so a
# Pending:Wait instance would be launched again, a Terminating one never replaced).
COUNTED = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")

_lock = threading.RLock()
_log_lock = threading.Lock()
# instance id -> _Lifecycle, for instances in a wait or drain the layer runs.
_moving: dict = {}
# (target group arn, instance id) -> monotonic time its draining ends.
_draining: dict = {}
# group arn -> scaling activities the layer recorded (failed launches).
_activities: dict = {}


def _event(kind: str, region: str, instance: str | None, **fields) -> None:
    path = os.environ.get("MOTO_BEHAVIOUR_LOG")
    if not path:
        return
    line = json.dumps({"t": time.time(), "event": kind, "region": region, "instance": instance, **fields})
    with _log_lock, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


class _Lifecycle:
    """One instance on its way in (Pending:Wait) or out (draining, Terminating:Wait)."""

    def __init__(self, group, state, leaving: bool):
        self.group = group
        self.state = state
        self.leaving = leaving
        self.drained_at = time.monotonic()
        # hook name -> (deadline, default result); hooks not yet completed.
        self.waiting: dict = {}
        self.abandoned = False
        self.hooks_started = False

    def start_hooks(self, transition: str) -> None:
        hooks = [
            h for h in self.group.autoscaling_backend.describe_lifecycle_hooks(self.group.name)
            if h.lifecycle_transition == transition
        ]
        now = time.monotonic()
        for h in hooks:
            self.waiting[h.name] = (now + int(h.heartbeat_timeout), h.default_result)
            _event("hook_wait", self.group.region, self.state.instance.id, group=self.group.name,
                   hook=h.name, transition=transition)
        if hooks:
            self.state.lifecycle_state = "Terminating:Wait" if self.leaving else "Pending:Wait"

    def complete(self, hook: str, result: str, by: str) -> None:
        self.waiting.pop(hook, None)
        _event("hook_completed", self.group.region, self.state.instance.id, group=self.group.name,
               hook=hook, result=result, by=by)
        if result == "ABANDON":
            # ABANDON ends the remaining hooks too; for a launch it terminates the instance.
            self.waiting.clear()
            self.abandoned = True


def _group_target_groups(group):
    if not group.target_group_arns:
        return []
    elbv2 = group.autoscaling_backend.elbv2_backend
    return elbv2.describe_target_groups(target_group_arns=group.target_group_arns,
                                        load_balancer_arn=None, names=None)


def _deregister(group, instance_id: str) -> float:
    """Takes the instance out of the group's target groups; returns when its draining ends."""
    end = time.monotonic()
    for tg in _group_target_groups(group):
        target = tg.targets.pop(instance_id, None)
        if target is None:
            continue
        delay = int(tg.attributes.get("deregistration_delay.timeout_seconds", 300))
        until = time.monotonic() + delay
        _draining[(tg.arn, instance_id)] = until
        tg.deregistered_targets[instance_id] = target
        end = max(end, until)
        _event("deregistered", group.region, instance_id, group=group.name, target_group=tg.arn, delay=delay)
    return end


def _start_leaving(group, state, cause: str) -> None:
    life = _Lifecycle(group, state, leaving=True)
    state.lifecycle_state = "Terminating"
    life.drained_at = _deregister(group, state.instance.id)
    _moving[state.instance.id] = life
    _event("terminating", group.region, state.instance.id, group=group.name, cause=cause)


def _stop(group, instance_id: str) -> None:
    group.autoscaling_backend.ec2_backend.terminate_instances([instance_id])
    group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]


def _tick() -> None:
    now = time.monotonic()
    for instance_id, life in list(_moving.items()):
        for hook, (deadline, default) in list(life.waiting.items()):
            if now >= deadline:
                life.complete(hook, default, by="heartbeat timeout")
        group = life.group
        if life.leaving:
            if now < life.drained_at:
                continue
            if not life.hooks_started:
                life.hooks_started = True
                _event("drained", group.region, instance_id, group=group.name)
                life.start_hooks(TERMINATING)
            if life.waiting:
                continue
            life.state.lifecycle_state = "Terminating:Proceed"
            del _moving[instance_id]
            _stop(group, instance_id)
        else:
            if life.waiting:
                continue
            del _moving[instance_id]
            if life.abandoned:
                _stop(group, instance_id)
                group.set_desired_capacity(group.desired_capacity)  # a replacement
            else:
                life.state.lifecycle_state = "InService"
                group.autoscaling_backend.update_attached_target_groups(group.name)


def _ticker() -> None:
    while True:
        time.sleep(TICK_SECONDS)
        with _lock:
            try:
                _tick()
            except Exception as e:  # a bug here must show in the log, not kill the model
                _event("layer_error", "", None, error=repr(e))


def _resolve_ssm(backend, image_id: str) -> str:
    """`resolve:ssm:<name>[:version|label]` to the parameter's value, as EC2 does at launch."""
    if not isinstance(image_id, str) or not image_id.startswith("resolve:ssm:"):
        return image_id
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[backend.account_id][backend.region_name].get_parameter(
        image_id[len("resolve:ssm:"):])
    if parameter is None:
        from moto.ec2.exceptions import InvalidAMIIdError

        raise InvalidAMIIdError(image_id)
    return parameter.value


def install() -> None:
    from moto.autoscaling import models as asg
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.ec2.exceptions import EC2ClientError, UnvailableAMIIdError
    from moto.ec2.models.instances import InstanceBackend
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    group_cls, backend_cls = asg.FakeAutoScalingGroup, asg.AutoScalingBackend

    group_cls.active_instances = lambda self: [s for s in self.instance_states if s.lifecycle_state in COUNTED]

    original_run = InstanceBackend.run_instances

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
        image_id = _resolve_ssm(self, image_id)
        if image_id in getattr(self, "deleted_amis", []):
            raise UnvailableAMIIdError(image_id)
        return original_run(self, image_id, count, user_data, security_group_names, **kwargs)

    InstanceBackend.run_instances = run_instances

    original_terminate_ec2 = InstanceBackend.terminate_instances

    def terminate_instances(self, instance_ids):
        # Whoever stops an instance: record whether a load balancer still sent it requests.
        from moto.elbv2.models import elbv2_backends

        with _lock:
            now = time.monotonic()
            tgs = list(elbv2_backends[self.account_id][self.region_name].target_groups.values())
            for instance_id in instance_ids:
                registered = [tg.arn for tg in tgs if instance_id in tg.targets]
                draining = [arn for (arn, i), until in _draining.items() if i == instance_id and until > now]
                _event("stopped", self.region_name, instance_id, registered=registered, draining=draining)
                # Stopped by someone else (EC2 TerminateInstances) while the group held it.
                _moving.pop(instance_id, None)
            return original_terminate_ec2(self, instance_ids)

    InstanceBackend.terminate_instances = terminate_instances

    original_replace = group_cls.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self, count_needed, propagated_tags):
        before = {s.instance.id for s in self.instance_states}
        try:
            original_replace(self, count_needed, propagated_tags)
        except EC2ClientError as e:
            # The group's launch fails as a scaling activity; the call that asked for capacity
            # succeeded and the group stays short.
            activity = asg.Activity(f"Launching a new EC2 instance. Status Reason: {e.message}",
                                    "a difference between desired and actual capacity", self,
                                    status_code="Failed")
            activity.status_message = f"{e.message}. Launching EC2 instance failed."
            _activities.setdefault(self.arn, []).append(activity)
            _event("launch_failed", self.region, None, group=self.name, code=e.code, message=e.message)
            return
        with _lock:
            for state in self.instance_states:
                if state.instance.id not in before:
                    life = _Lifecycle(self, state, leaving=False)
                    life.start_hooks(LAUNCHING)
                    if life.waiting:
                        _moving[state.instance.id] = life

    group_cls.replace_autoscaling_group_instances = replace_autoscaling_group_instances
    group_cls.image_id = property(lambda self: _resolve_ssm(
        self.autoscaling_backend.ec2_backend,
        self.ec2_launch_template.get_version(self.launch_template_version).image_id
        if self.ec2_launch_template else self.launch_config.image_id))

    original_set_desired = group_cls.set_desired_capacity

    def set_desired_capacity(self, new_capacity):
        with _lock:
            desired = self.min_size if new_capacity is None else new_capacity
            active = self.active_instances()
            excess = len(active) - (desired or 0)
            if excess <= 0:
                return original_set_desired(self, new_capacity)
            # A scale-in the group performs: the chosen instances drain and run their hooks.
            self.desired_capacity = desired
            for state in [s for s in active if not s.protected_from_scale_in][:excess]:
                _start_leaving(self, state, "scale-in")
            self.autoscaling_backend.update_attached_target_groups(self.name)

    group_cls.set_desired_capacity = set_desired_capacity

    def terminate_instance(self, instance_id, should_decrement):
        with _lock:
            state = next((s for g in self.autoscaling_groups.values() for s in g.instance_states
                          if s.instance.id == instance_id), None)
            if state is None:
                raise ValidationError("Instance Id not found - No managed instance found for instance ID: " + instance_id)
            if state.lifecycle_state.startswith("Terminating"):
                raise ValidationError(f"The instance {instance_id} is already Terminating")
            group = state.auto_scaling_group
            original_size = group.desired_capacity
            _start_leaving(group, state, "TerminateInstanceInAutoScalingGroup")
            if should_decrement:
                group.desired_capacity -= 1
            else:
                group.set_desired_capacity(group.desired_capacity)  # launches the replacement
            return asg.TerminateInstanceActivity(state.instance, original_size)

    backend_cls.terminate_instance = terminate_instance

    original_detach = backend_cls.detach_instances

    def detach_instances(self, group_name, instance_ids, should_decrement):
        with _lock:
            group = self.autoscaling_groups[group_name]
            for instance_id in instance_ids:
                _deregister(group, instance_id)  # draining starts; no hook runs
                _event("detached", group.region, instance_id, group=group_name)
            return original_detach(self, group_name, instance_ids, should_decrement)

    backend_cls.detach_instances = detach_instances

    def update_attached_target_groups(self, group_name):
        with _lock:
            _register_in_service(self, group_name)

    def _register_in_service(self, group_name):
        # Only InService instances are registered (a Pending:Wait or leaving one is not).
        group = self.autoscaling_groups[group_name]
        ids = [s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"]
        for tg in _group_target_groups(group):
            new = [{"Id": i, "Port": tg.port} for i in ids if i not in tg.targets]
            if new:
                self.elbv2_backend.register_targets(tg.arn, new)
                for t in new:
                    _draining.pop((tg.arn, t["Id"]), None)

    backend_cls.update_attached_target_groups = update_attached_target_groups

    original_health = FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        with _lock:
            until = _draining.get((self.arn, target["Id"]))
        if until is not None and until > time.monotonic() and target["Id"] not in self.targets:
            return FakeHealthStatus(target["Id"], target.get("Port", self.port), self.health_check_port,
                                    "draining", "Target.DeregistrationInProgress",
                                    "Target deregistration is in progress")
        return original_health(self, target, ec2_backend)

    FakeTargetGroup.health_for = health_for

    def complete_lifecycle_action(self):
        instance_id = self._get_param("InstanceId")
        hook = self._get_param("LifecycleHookName")
        result = self._get_param("LifecycleActionResult")
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError("LifecycleActionResult must be CONTINUE or ABANDON")
        with _lock:
            life = _moving.get(instance_id)
            if life is None or hook not in life.waiting:
                raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
            life.complete(hook, result, by="CompleteLifecycleAction")
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self):
        instance_id = self._get_param("InstanceId")
        hook = self._get_param("LifecycleHookName")
        with _lock:
            life = _moving.get(instance_id)
            if life is None or hook not in life.waiting:
                raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
            hooks = self.autoscaling_backend.describe_lifecycle_hooks(life.group.name, [hook])
            timeout = int(hooks[0].heartbeat_timeout) if hooks else DEFAULT_HEARTBEAT_SECONDS
            life.waiting[hook] = (time.monotonic() + timeout, life.waiting[hook][1])
        return EmptyResult()

    def describe_scaling_activities(self):
        name = self._get_param("AutoScalingGroupName")
        groups = [g for g in self.autoscaling_backend.autoscaling_groups.values() if not name or g.name == name]
        return ActionResult({"Activities": [a for g in groups for a in _activities.get(g.arn, [])]})

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
    AutoScalingResponse.describe_scaling_activities = describe_scaling_activities

    threading.Thread(target=_ticker, name="aws-behaviours", daemon=True).start()
