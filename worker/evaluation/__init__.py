"""Evaluation: graders (shared with the RL rewards), statistics, and the evaluation job's pure steps."""
