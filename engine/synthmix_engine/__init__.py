"""synthmix compute engine: the tensor math behind the gpu-queue activities.

Run as `python -m synthmix_engine <command> --spec spec.json`. The engine reads only local files
named in the spec and writes only under the spec's `workDir`; it never talks to S3 or Temporal.
"""

ENGINE_VERSION = "0.1.0"
