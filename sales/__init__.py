"""Sales forecasting domain: data model, periods, metrics, import, demo and command line.

Never imports Streamlit; pages call into this package and only draw.
"""
