"""prefect_haoee.tasks"""
