from setuptools import find_packages, setup

package_name = "apeiria"

setup(
    name=package_name,
    version="0.1.0",
    description="Neuro-symbolic 3D grounding for robots: instruction -> program -> grounded boxes, with verifiable traces (APEIRIA, ICML 2026).",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["apeiria_model", "apeiria_model.*", "apeiria_ros", "apeiria_ros.*"]),
    package_data={"apeiria_model": ["programs/*.lark", "assets/**/*", "assets/*"],
                  "apeiria_ros": ["console/static/*"]},  # the console's page: shipped, no build step
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    zip_safe=False,
    entry_points={"console_scripts": ["apeiria = apeiria_model.cli.main:main"]},
)
