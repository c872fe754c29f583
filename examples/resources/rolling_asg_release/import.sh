terraform import rolling_asg_release.web web
