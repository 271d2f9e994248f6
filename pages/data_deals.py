"""Deal explorer: every column of every deal as of the view's date; filter, sort, page, download."""

import streamlit as st

from sales import formatting as fmt
from sales.explorer import (
    COLUMNS,
    DOWNLOAD_ROW_CAP,
    PAGE_SIZES,
    STATUSES,
    XLSX_ROW_CAP,
    DealQuery,
)
from sales.export import XLSX_MIME, csv_bytes, xlsx_bytes
from sales.stages import REPORT_CATEGORIES
from ui import page, widgets
from ui.data import deal_scores, explore_deals, explore_export, explorer_stages

view = page.start("Deal explorer", caption="every deal, not only this period's; the sidebar's "
                  "filters and as-of apply")

search, stages, categories, statuses = st.columns([2, 2, 2, 1])
text = search.text_input("Search id, name or account", key="deals_search",
                         bind="query-params")  # the digest links a deal by its id
picked_stages = stages.multiselect("Stage", explorer_stages(), key="deals_stages",
                                   placeholder="All")
picked_categories = categories.multiselect("Category", REPORT_CATEGORIES, key="deals_categories",
                                           placeholder="All")
picked_statuses = statuses.multiselect("Status", STATUSES, key="deals_status", placeholder="All")
close_range, amount_min, amount_max, sort, order = st.columns([2, 1, 1, 1, 1])
dates = close_range.date_input("Close date between", value=(), key="deals_close")
low = amount_min.number_input("Amount from", min_value=0.0, value=None, step=1000.0,
                              key="deals_amount_min")
high = amount_max.number_input("Amount to", min_value=0.0, value=None, step=1000.0,
                               key="deals_amount_max")
sort_by = sort.selectbox("Sort by", COLUMNS, index=COLUMNS.index("amount"), key="deals_sort")
descending = order.selectbox("Order", ["descending", "ascending"], key="deals_order")

query = DealQuery(search=text, stages=tuple(picked_stages), categories=tuple(picked_categories),
                  statuses=tuple(picked_statuses),
                  close_from=dates[0] if len(dates) > 0 else None,
                  close_to=dates[1] if len(dates) > 1 else None,
                  amount_min=low, amount_max=high, sort=sort_by,
                  descending=descending == "descending")

size = st.session_state.get("deals_page_size", PAGE_SIZES[1])
number = st.session_state.get("deals_page", 1)
deals, total = explore_deals(view, query, number, size)
pages = max(1, -(-total // size))
if number > pages:  # the filter shrank under the page number: back to page 1
    st.session_state["deals_page"] = number = 1
    deals, total = explore_deals(view, query, number, size)

size_col, page_col, info_col = st.columns([1, 1, 3], vertical_alignment="bottom")
size_col.selectbox("Deals per page", PAGE_SIZES, index=PAGE_SIZES.index(size),
                   key="deals_page_size")
page_col.number_input("Page", min_value=1, max_value=pages, key="deals_page")
first = (number - 1) * size + 1 if total else 0
info_col.caption(f"{fmt.count(total)} deals match · showing {fmt.count(first)}–"
                 f"{fmt.count(first + len(deals) - 1 if total else 0)} · "
                 f"{fmt.money(float(deals['amount'].sum()))} on this page")

if deals.empty:
    st.info("No deals match — clear a filter or widen the search.")
    st.stop()
scores, refreshing = deal_scores(view, tuple(deals["opportunity_id"]))
if len(scores):  # the open, qualified deals closing in the view's period have a win %
    by_id = scores.set_index("opportunity_id")
    deals = deals.assign(win_probability=deals["opportunity_id"].map(by_id["win_probability"]),
                         why=deals["opportunity_id"].map(by_id["why"]))
if refreshing:
    st.caption("Win %: the previous scores, while the deals are being scored again.")
st.dataframe(deals, hide_index=True, width="stretch",
             column_config={**{c: c.replace("_", " ").capitalize() for c in COLUMNS},
                            "opportunity_id": "Opportunity", "amount": widgets.money_column("Amount"),
                            "win_probability": st.column_config.ProgressColumn(
                                f"Win % ({view.period.label})", format="percent", min_value=0.0,
                                max_value=1.0, help="For the open, qualified deals closing in "
                                "the period: the chance the model gives them."),
                            "why": st.column_config.TextColumn(
                                "Why", help="The factors behind the win %, in probability "
                                            "points.")})

capped = total > DOWNLOAD_ROW_CAP
left, right = st.columns(2)
left.download_button(
    f"Download CSV ({fmt.count(min(total, DOWNLOAD_ROW_CAP))} deals)",
    lambda: csv_bytes(explore_export(view, query, DOWNLOAD_ROW_CAP)[0]),
    file_name="deals.csv", mime="text/csv", key="deals_csv")
right.download_button(
    f"Download XLSX ({fmt.count(min(total, XLSX_ROW_CAP))} deals)",
    lambda: xlsx_bytes({"Deals": explore_export(view, query, XLSX_ROW_CAP)[0]}),
    file_name="deals.xlsx", mime=XLSX_MIME, key="deals_xlsx")
if total > XLSX_ROW_CAP:
    st.caption(f"Downloads hold the first {fmt.count(DOWNLOAD_ROW_CAP)} deals (CSV) or "
               f"{fmt.count(XLSX_ROW_CAP)} (XLSX) in this order"
               + (f" of {fmt.count(total)}" if capped or total > XLSX_ROW_CAP else "")
               + "; for everything, query the SQL page or open the DuckDB file (README).")
