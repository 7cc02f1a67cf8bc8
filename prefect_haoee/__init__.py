"""prefect-haoee: Haoee gateway generation as Prefect 3 workflows."""
