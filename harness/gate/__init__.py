"""The release gate: a policy of rules, the verdict and its exit code, and the gate run.

``harness gate`` evaluates base and candidate on each suite (``harness.eval``), compares them with
paired statistics (``harness.compare``) and applies the policy.
"""
