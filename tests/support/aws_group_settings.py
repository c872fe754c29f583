"""Auto Scaling group settings moto 5.2.1 drops, stored so that DescribeAutoScalingGroups answers
them as AWS does: `InstanceMaintenancePolicy` (MinHealthyPercentage / MaxHealthyPercentage) and
`DefaultInstanceWarmup`, as CreateAutoScalingGroup and UpdateAutoScalingGroup set them.
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceMaintenancePolicy.html
-1 clears a value, as on AWS. Nothing else changes: moto's groups do not act on these settings
(neither does AWS outside its own replacements); the release reads them as its defaults.

Installed beside aws_behaviours.py by moto_guard.py (MOTO_AWS_BEHAVIOURS=1: `Moto::behaving`).
"""


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
