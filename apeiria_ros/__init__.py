"""apeiria_ros: thin ROS 2 adapters (nodes, bringup, bags) over apeiria_model."""
