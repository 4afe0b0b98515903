"""Dataset-scale runs: per-image work as Ray tasks (ray_tasks), results written as they arrive (journal)."""
