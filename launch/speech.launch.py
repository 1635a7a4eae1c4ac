"""ros2 launch apeiria speech.launch.py wav_file:=command.wav

Offline speech-to-text publishing instructions for the grounding node."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("apeiria")
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=os.path.join(share, "config", "speech.yaml")),
        DeclareLaunchArgument("wav_file", default_value=""),
        Node(package="apeiria", executable="speech_node", name="speech_node", output="screen",
             parameters=[LaunchConfiguration("params"), {"wav_file": LaunchConfiguration("wav_file")}]),
    ])
