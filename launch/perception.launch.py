"""ros2 launch apeiria perception.launch.py [params:=scene_builder.yaml] [rviz:=true]

Scene builder on a real RGB-D camera (topics in config/scene_builder.yaml) + grounding,
optionally RViz with config/apeiria.rviz."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("apeiria")
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=os.path.join(share, "config", "scene_builder.yaml")),
        DeclareLaunchArgument("grounding_params", default_value=os.path.join(share, "config", "grounding.yaml")),
        DeclareLaunchArgument("rviz", default_value="false"),
        Node(package="apeiria", executable="scene_builder_node", name="scene_builder_node", output="screen",
             parameters=[LaunchConfiguration("params")]),
        Node(package="apeiria", executable="grounding_node", name="grounding_node", output="screen",
             parameters=[LaunchConfiguration("grounding_params")]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "config", "apeiria.rviz")]),
    ])
