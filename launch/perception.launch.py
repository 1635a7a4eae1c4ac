"""ros2 launch apeiria perception.launch.py [params:=scene_builder.yaml] [rviz:=true]

Scene builder on a real RGB-D camera (topics in config/scene_builder.yaml) + grounding,
optionally RViz with config/apeiria.rviz. Both are lifecycle nodes: with autostart
(default true) they configure and activate themselves; autostart:=false leaves them
unconfigured for a lifecycle manager (docs/ros.md, Lifecycle)."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("apeiria")
    autostart = {"autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool)}
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=os.path.join(share, "config", "scene_builder.yaml")),
        DeclareLaunchArgument("grounding_params", default_value=os.path.join(share, "config", "grounding.yaml")),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure + activate at start (false: wait for a lifecycle manager)"),
        Node(package="apeiria", executable="scene_builder_node", name="scene_builder_node", output="screen",
             parameters=[LaunchConfiguration("params"), autostart]),
        Node(package="apeiria", executable="grounding_node", name="grounding_node", output="screen",
             parameters=[LaunchConfiguration("grounding_params"), autostart]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "config", "apeiria.rviz")]),
    ])
