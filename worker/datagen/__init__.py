"""Synthetic data generation, pure ML: Self-Instruct tasks from seeds, Constitutional AI critique-and-revise,
driven through a TextGenerator. Nothing here knows the database: worker.jobs.datagen_job feeds and stores."""
