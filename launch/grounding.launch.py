"""ros2 launch apeiria grounding.launch.py [params:=grounding.yaml] [scene_file:=scene.json] [autostart:=false]

The grounding node alone (scene from a SceneMap topic or a Scene JSON file). It is a
lifecycle node: with autostart (default true) it configures and activates itself;
autostart:=false leaves it unconfigured for a lifecycle manager (docs/ros.md, Lifecycle)."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("apeiria")
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=os.path.join(share, "config", "grounding.yaml")),
        DeclareLaunchArgument("scene_file", default_value=""),
        DeclareLaunchArgument("reasoner", default_value="symbolic"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure + activate at start (false: wait for a lifecycle manager)"),
        Node(package="apeiria", executable="grounding_node", name="grounding_node", output="screen",
             parameters=[LaunchConfiguration("params"),
                         {"scene_file": LaunchConfiguration("scene_file"),
                          "reasoner": LaunchConfiguration("reasoner"),
                          "autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool)}]),
    ])
