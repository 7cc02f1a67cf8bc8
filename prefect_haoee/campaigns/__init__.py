"""prefect_haoee.campaigns"""
