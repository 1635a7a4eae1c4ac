"""One module per ROS-side `apeiria` subcommand (auto-discovered by apeiria_ros.cli)."""
