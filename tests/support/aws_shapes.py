"""What moto 5.2.1 lacks for the group shapes of issue 13 (tests/release_shapes.rs):

1. Auto Scaling group settings it drops, stored so that DescribeAutoScalingGroups answers them
   as AWS does: `InstanceMaintenancePolicy` (MinHealthyPercentage / MaxHealthyPercentage) and
   `DefaultInstanceWarmup`, as CreateAutoScalingGroup and UpdateAutoScalingGroup set them; -1
   clears a value. Nothing acts on them (AWS does only in its own replacements); the release
   reads them as its defaults.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceMaintenancePolicy.html
2. DeleteLaunchTemplateVersions (moto answers HTTP 500): up to 200 version numbers a call; the
   template's default version cannot be deleted (reported per version, as AWS does, among the
   unsuccessfully deleted); a deleted version is gone from DescribeLaunchTemplateVersions.
   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteLaunchTemplateVersions.html

3. Mixed instances policies (tests/release_mixed.rs). UpdateAutoScalingGroup changes only the
   parameters it is given ("Any properties that you don't specify are not changed"); moto drops
   the group's MixedInstancesPolicy on every update without one (a capacity change), and then
   launches as if it had none. A group launches from one of LaunchConfigurationName,
   LaunchTemplate or MixedInstancesPolicy, never two; moto answers a top-level LaunchTemplate
   beside the policy, so DescribeAutoScalingGroups leaves it out for a policy's group.
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html

4. Weighted capacity (tests/release_mixed.rs). With `WeightedCapacity` on the overrides, the
   group's sizes are capacity units and each instance counts for its type's weight; moto
   already launches ceil(units / weight) instances, by the first override's weight only (its
   "prioritized" stand-in always picks the first override), but neither reports an instance's
   `WeightedCapacity` in DescribeAutoScalingGroups nor lowers desired capacity by the weight when
   TerminateInstanceInAutoScalingGroup decrements it (it lowers it by one: a group of units
   would then launch part of the instance back). Here an instance reports the weight of the
   override of its type, else of the first override (the one moto launched it by), and a
   decrementing termination lowers desired capacity by that weight.
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-weighting.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateOverrides.html

Installed beside aws_behaviours.py by moto_guard.py (MOTO_AWS_BEHAVIOURS=1: `Moto::behaving`).
"""


import copy


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _store(group, params) -> None:
    warmup = _int(params.get("DefaultInstanceWarmup"))
    if warmup is not None:
        group.default_instance_warmup = None if warmup < 0 else warmup
    policy = params.get("InstanceMaintenancePolicy")
    if isinstance(policy, dict):
        low = _int(policy.get("MinHealthyPercentage"))
        high = _int(policy.get("MaxHealthyPercentage"))
        if (low is not None and low < 0) or (high is not None and high < 0):
            group.instance_maintenance_policy = None
        elif low is not None or high is not None:
            group.instance_maintenance_policy = {
                "MinHealthyPercentage": low,
                "MaxHealthyPercentage": high,
            }


def install() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse

    FakeAutoScalingGroup.default_instance_warmup = None
    FakeAutoScalingGroup.instance_maintenance_policy = None

    def storing(action):
        def handler(self):
            result = action(self)
            params = self._get_params()
            name = params.get("AutoScalingGroupName")
            group = self.autoscaling_backend.autoscaling_groups.get(name)
            if group is not None:
                _store(group, params)
            return result

        return handler

    for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
        setattr(AutoScalingResponse, name, storing(getattr(AutoScalingResponse, name)))
    _install_version_deletion()
    _install_mixed_policy_updates()


def _install_mixed_policy_updates() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup

    original_update = FakeAutoScalingGroup.update

    def update(self, *args, **kwargs):
        names = ("availability_zones", "desired_capacity", "max_size", "min_size",
                 "launch_config_name", "launch_template", "vpc_zone_identifier",
                 "health_check_period", "health_check_type",
                 "new_instances_protected_from_scale_in", "mixed_instances_policy")
        given = dict(zip(names, args))
        given.update(kwargs)
        launch_given = (given.get("launch_config_name") or given.get("launch_template")
                        or given.get("mixed_instances_policy"))
        if not launch_given and self.mixed_instances_policy:
            # As the group holds it, but by template id only: moto stores id and name, and
            # refuses a specification with both.
            kept = copy.deepcopy(self.mixed_instances_policy)
            spec = kept["LaunchTemplate"]["LaunchTemplateSpecification"]
            if spec.get("LaunchTemplateId"):
                spec.pop("LaunchTemplateName", None)
            given["mixed_instances_policy"] = kept
        return original_update(self, **given)

    FakeAutoScalingGroup.update = update

    top_level = FakeAutoScalingGroup.launch_template

    def launch_template(self):
        return None if self.mixed_instances_policy else top_level.fget(self)

    FakeAutoScalingGroup.launch_template = property(launch_template)
    _install_weights()


def _weight(group, instance_type):
    """The units an instance of `instance_type` counts for in `group`; None without weights."""
    policy = getattr(group, "mixed_instances_policy", None) or {}
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    weights = [(o.get("InstanceType"), _int(o.get("WeightedCapacity"))) for o in overrides]
    if not any(w is not None for _, w in weights):
        return None
    for t, w in weights:
        if t == instance_type and w:
            return w
    return weights[0][1] or 1


def _install_weights() -> None:
    from moto.autoscaling.models import AutoScalingBackend, InstanceState

    def weighted_capacity(self):
        w = _weight(self.auto_scaling_group, self.instance_type)
        return None if w is None else str(w)

    InstanceState.weighted_capacity = property(weighted_capacity)

    original_terminate = AutoScalingBackend.terminate_instance

    def terminate_instance(self, instance_id, should_decrement):
        state = next((s for g in self.autoscaling_groups.values() for s in g.instance_states
                      if s.instance.id == instance_id), None)
        weight = _weight(state.auto_scaling_group, state.instance_type) if state else None
        activity = original_terminate(self, instance_id, should_decrement)
        if should_decrement and weight and weight > 1:
            group = state.auto_scaling_group
            group.desired_capacity = max(0, group.desired_capacity - (weight - 1))
        return activity

    AutoScalingBackend.terminate_instance = terminate_instance


def _install_version_deletion() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
    from moto.ec2.responses.launch_templates import LaunchTemplates

    # Versions stay in moto's list (it finds a version by its position) and are hidden.
    LaunchTemplate.deleted_numbers = frozenset()

    original_describe = LaunchTemplateBackend.describe_launch_template_versions

    def describe(self, *args, **kwargs):
        found = original_describe(self, *args, **kwargs)
        return [(t, v) for t, v in found if v.number not in t.deleted_numbers]

    LaunchTemplateBackend.describe_launch_template_versions = describe

    def delete_launch_template_versions(self):
        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        numbers = self._get_param("LaunchTemplateVersion", []) or self._get_param("Versions", [])
        template = (self.ec2_backend.get_launch_template_by_name(name) if name
                    else self.ec2_backend.get_launch_template(template_id))
        ok, failed = [], []
        for raw in numbers:
            number = int(raw)
            entry = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
                     "VersionNumber": number}
            if number == template.default_version_number:
                failed.append(dict(entry, ResponseError={
                    "Code": "launchTemplateVersionDefaultVersion",
                    "Message": "the default version of a launch template cannot be deleted"}))
            elif number < 1 or number > len(template.versions) or number in template.deleted_numbers:
                failed.append(dict(entry, ResponseError={
                    "Code": "launchTemplateVersionDoesNotExist",
                    "Message": f"version {number} does not exist"}))
            else:
                template.deleted_numbers = template.deleted_numbers | {number}
                ok.append(entry)
        return ActionResult({"SuccessfullyDeletedLaunchTemplateVersions": ok,
                             "UnsuccessfullyDeletedLaunchTemplateVersions": failed})

    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions
