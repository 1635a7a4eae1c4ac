"""ros2 launch apeiria apeiria.launch.py [config:=/path/bringup.yaml]

Starts the nodes listed in the bringup YAML (apeiria_bringup.ros__parameters.nodes),
each with its parameters from the same file: the node set `apeiria bringup` starts.
The lifecycle nodes (grounding_node, scene_builder_node) configure and activate
themselves here (their autostart parameter, default true), where `apeiria bringup`
drives them through their lifecycle services instead.
"""

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    config = LaunchConfiguration("config").perform(context)
    with open(config) as f:
        doc = yaml.safe_load(f)
    names = doc["apeiria_bringup"]["ros__parameters"]["nodes"]
    return [Node(package="apeiria", executable=n, name=n, parameters=[config], output="screen") for n in names]


def generate_launch_description():
    share = get_package_share_directory("apeiria")
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "bringup_demo.yaml"),
                              description="bringup YAML: node list + ROS parameters per node"),
        OpaqueFunction(function=_nodes),
    ])
