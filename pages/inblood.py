"""In-blood call: settle the number deal by deal, save it, and see how good past calls were."""

import plotly.graph_objects as go
import streamlit as st

from sales import backtest
from sales import formatting as fmt
from sales.access import SAVE_CALLS, SUBMIT_CALL
from sales.calls import save_call
from sales.export import XLSX_MIME, csv_bytes, xlsx_bytes
from sales.inblood import (
    ALARM,
    FLAG_COLUMNS,
    NOTE,
    WARNING,
    BoardFilter,
    commit_risk_level,
    days_left,
    totals,
)
from sales.people_calls import CallError, submit_call
from sales.stages import BEST_CASE, COMMIT, OPEN_CATEGORIES
from sales.team_view import home_of, included_deals
from ui import auth, board, page, state, widgets
from ui.data import (
    board_members,
    board_page,
    board_summary,
    call_diff,
    call_export,
    call_history,
    deal_scores,
    filter_options,
    follow_ups_of_call,
    gone_since_call,
    hierarchy_at,
    track_record,
)

PAGE_SIZES = (50, 100, 200, 500)
# 100 rows: a screen or two of the largest deals, and a toggle redraws in well under 0.2 s.
DEFAULT_PAGE_SIZE = 100
# How commit risk speaks at each level of sales.inblood.commit_risk_level.
RISK_VOICE = {NOTE: st.caption, WARNING: st.warning, ALARM: st.error}

view = page.start("In-blood call")
settings = state.settings(state.database_path(), state.version())
summary = board_summary(view, settings)
call_id = summary.call_id
history = call_history(view)

if call_id is None:
    st.info(f"No call saved yet for {view.period.label} in this view: the board starts from the "
            "default rules (Commit in, Best Case and Pipeline out; change them in settings).")
else:
    last = history[history.call_id == call_id].iloc[-1]
    st.info(f"Starting from the call saved {last.saved_at:%d %b %Y %H:%M} by "
            f"{fmt.text(last.saved_by)}" + (f" — “{fmt.text(last.note)}”" if last.note else "")
            + ". Deals new since then start at "
            "their defaults; deals whose amount or category changed are flagged; deals that "
            "left the board since are listed in the tab below.")


def _tiles(current: dict) -> None:
    now = totals(summary, current)
    previous = history.iloc[-1] if len(history) else None
    tiles = st.columns(4)
    tiles[0].metric(
        "In-blood number", fmt.money(now.number), border=True,
        delta=None if previous is None else fmt.money(now.number - previous.in_blood),
        delta_description=None if previous is None else "since the last saved call",
        help=f"Closed won {fmt.money(now.closed_won)} plus the included deals.")
    tiles[1].metric(
        "Upside", fmt.money(now.upside), border=True,
        delta=None if previous is None else fmt.money(now.upside - previous.upside),
        delta_color="off", help="Excluded Commit and Best Case deals.")
    tiles[2].metric("Top of the range", fmt.money(now.range_high), border=True,
                    help=f"The forecast range runs from the in-blood number {fmt.money(now.number)} "
                         f"to in-blood plus upside {fmt.money(now.range_high)}.")
    unsaved = sum(1 for c in current.values() if c.included != c.start_included)
    tiles[3].metric("Unsaved changes", f"{unsaved:,}", border=True,
                    help="Deals whose decision differs from where the board started.")
    say = RISK_VOICE.get(commit_risk_level(view))
    if summary.commit_risk.amount and say is not None:
        say(f"Commit risk: {fmt.money(summary.commit_risk.amount)} of Commit "
            f"({summary.commit_risk.count:,} deals) is not yet redlining, with "
            f"{days_left(view)} days left in {view.period.label}.")


def _board_filter() -> BoardFilter:
    """The filter as the widgets below will show it (read first, so the page fits it)."""
    get = st.session_state.get
    return BoardFilter(tuple(get("board_categories", ())), tuple(get("board_owners", ())),
                       tuple(get("board_flags", ())), get("board_search", ""))


def _filter_widgets() -> None:
    left, middle, right, search = st.columns([1, 1, 1, 1])
    left.multiselect("Category", OPEN_CATEGORIES, key="board_categories")
    middle.multiselect("Owner", filter_options("owner", view.scope), key="board_owners")
    right.multiselect("Flags (any)", list(FLAG_COLUMNS), key="board_flags")
    search.text_input("Search account or deal", key="board_search")


def _bulk_members(where: BoardFilter):
    target = st.session_state.get("bulk_scope", "a category")
    if target == "a category":
        where = BoardFilter(categories=(st.session_state.get("bulk_category", COMMIT),))
    elif target == "an owner":
        where = BoardFilter(owners=(st.session_state.get("bulk_owner") or "",))
    return board_members(view, settings, call_id, where)


def _apply_bulk(where: BoardFilter) -> None:
    chosen = st.session_state.get("bulk_action", "Include")
    members = _bulk_members(where)
    board.apply(view, call_id, members, {"Include": True, "Exclude": False}.get(chosen),
                f"bulk: {chosen.lower()}")
    st.toast(f"{chosen}: {len(members):,} deals")


def _reset_to_defaults() -> None:
    members = board_members(view, settings, call_id, BoardFilter())
    board.apply(view, call_id, members[members.start_included != members.default_included], None)


def _bulk(where: BoardFilter) -> None:
    with st.expander("Bulk actions"):
        action, scope, value, go_button = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
        action.selectbox("Action", ["Include", "Exclude", "Back to default"], key="bulk_action")
        target = scope.selectbox("Deals", ["a category", "an owner", "the filtered set"],
                                 key="bulk_scope")
        if target == "a category":
            value.selectbox("Category", OPEN_CATEGORIES, key="bulk_category")
        elif target == "an owner":
            value.selectbox("Owner", filter_options("owner", view.scope), key="bulk_owner")
        go_button.button("Apply", key="bulk_apply", width="stretch", on_click=_apply_bulk,
                         args=(where,))
        left, right = st.columns(2)
        left.button("Reset to the default rules", key="reset_defaults", width="stretch",
                    on_click=_reset_to_defaults)
        right.button("Reset to the last saved call" if call_id else "Undo all changes",
                     key="reset_call", width="stretch", on_click=board.reset_to_start,
                     args=(view, call_id))


def _page_of_deals(where: BoardFilter):
    size = st.session_state.get("board_page_size", DEFAULT_PAGE_SIZE)
    number = st.session_state.get("board_page", 1)
    deals, matching = board_page(view, settings, call_id, where, size, (number - 1) * size)
    if deals.empty and number > 1:  # the filter shrank under the page number: back to page 1
        st.session_state["board_page"] = number = 1
        deals, matching = board_page(view, settings, call_id, where, size, 0)
    return deals, matching, size, number


def _editor(deals, matching: int, size: int, key: str) -> None:
    size_col, page_col, info_col = st.columns([1, 1, 2], vertical_alignment="bottom")
    size_col.selectbox("Deals per page", PAGE_SIZES, index=PAGE_SIZES.index(DEFAULT_PAGE_SIZE),
                       key="board_page_size")
    page_col.number_input("Page", min_value=1, max_value=max(1, -(-matching // size)),
                          key="board_page")
    info_col.caption(f"{matching:,} deals match · largest first · tick Include to count a deal")
    if deals.empty:
        st.info("No open Commit, Best Case or Pipeline deals match — widen the filters.")
        return
    scores, refreshing = deal_scores(view, tuple(deals["opportunity_id"]))
    shown = board.editor_frame(deals, board.changes(view, call_id), scores)
    if refreshing:
        st.caption("Win %: the previous scores, while the deals are being scored again.")
    st.data_editor(
        shown, key=key, hide_index=True, width="stretch",
        height=min(38 * (len(deals) + 1), 600),
        disabled=[c for c in shown.columns if c not in ("Include", "Reason")],
        column_config={"Include": st.column_config.CheckboxColumn("Include", width="small"),
                       "Reason": st.column_config.TextColumn("Reason", max_chars=200),
                       "Amount": widgets.money_column("Amount"),
                       "Win %": st.column_config.ProgressColumn(
                           "Win %", format="percent", min_value=0.0, max_value=1.0,
                           help="The chance the deal is won in the period, from the model "
                                "learned on past quarters (Diagnostics › Forecast accuracy "
                                "shows how it would have done)."),
                       "Why": st.column_config.TextColumn(
                           "Why", help="The factors that moved the win %, in probability "
                                       "points: hover a cell to read them all.")})


def _save(current: dict) -> None:
    me = auth.identity()
    if me is None or not me.may(SAVE_CALLS):
        st.caption("Viewers follow the call; managers and analysts save it.")
        return
    with st.form("save_call", border=True):
        st.markdown("**Save the call**")
        # Signed in, the call is attributed to the identity; locally, to the name typed.
        who = me.who if me.team_mode else st.text_input(
            "Your name", key="saved_by", help="Asked once per session; sign-in fills it in.")
        note = st.text_input("Note", placeholder="e.g. Commit scrub with regional managers")
        if not st.form_submit_button("Save call", type="primary"):
            return
    try:
        with state.writing() as cur:
            new_id = save_call(cur, view, settings, call_id, current, who or "", note,
                               closed_won=summary.closed_won)
    except Exception as error:  # noqa: BLE001 - shown to the user, nothing was written
        st.error(f"The call was not saved, and earlier calls are untouched: {fmt.text(error)}")
        return
    board.reset_to_start(view, call_id)
    st.session_state["saved_call_message"] = f"Call {new_id} saved for {view.period.label}."
    st.rerun()


def _submit_as_call(current: dict) -> None:
    """One's own forecast call from the board: the number, and the Commit and Best Case deals
    it counts on (those ticked Include)."""
    me = auth.identity()
    tree = hierarchy_at(view.as_of)
    if me is None or not me.may(SUBMIT_CALL) or not tree.users:
        return
    mine = home_of(tree, me.who) if me.team_mode else None
    if me.team_mode and mine is None:
        return
    now = totals(summary, current)
    with st.expander("Submit as your forecast call"):
        if not me.team_mode:
            mine = st.selectbox("You are", tree.order(), key="board_call_by",
                                help="Local mode has no sign-in: pick who is calling.")
        members = board_members(view, settings, call_id, BoardFilter(categories=(COMMIT, BEST_CASE)))
        deals = included_deals(members, current)
        # Keyed by the board's totals: a tick moves the suggested numbers with it.
        suggested = f"{now.number}|{now.upside}"
        with st.form("board_call", border=False):
            left, right = st.columns(2)
            forecast = left.number_input("Forecast", min_value=0.0, value=float(now.number),
                                         step=1000.0, key=f"board_call_forecast|{suggested}")
            upside = right.number_input("Upside", min_value=0.0, value=float(now.upside),
                                        step=1000.0, key=f"board_call_upside|{suggested}")
            st.caption(f"Counts on the {len(deals):,} Commit and Best Case deals ticked "
                       "Include; the Roll-up page shows the call beside your team's.")
            sent = st.form_submit_button("Submit call", type="primary")
    if not sent:
        return
    try:
        with state.writing() as cur:
            made = submit_call(cur, mine, view.period.label, forecast, upside, by=mine,
                               deals=deals)
    except CallError as error:
        st.error(f"Not submitted, nothing changed: {fmt.text(error)}")
        return
    st.session_state["saved_call_message"] = (
        f"Your call of {fmt.money(made.forecast, precise=True)} for {made.period} submitted, "
        f"counting on {len(made.deals):,} deals.")
    st.rerun()


@st.fragment
def live_board() -> None:
    """Toggles rerun only this part: totals, filters, the deal editor and saving."""
    where = _board_filter()
    deals, matching, size, number = _page_of_deals(where)
    key = board.editor_key(view, call_id, (where, size, number, state.version()))
    board.fold_edits(view, call_id, deals, key)
    current = board.changes(view, call_id)
    _tiles(current)
    _filter_widgets()
    _bulk(where)
    _editor(deals, matching, size, key)
    _save(current)
    _submit_as_call(current)


if message := st.session_state.pop("saved_call_message", None):
    st.success(message)
live_board()

history_tab, gone_tab, accuracy_tab = st.tabs(
    ["Call history", "Deals gone since the last call", "Accuracy of past calls"],
    key="inblood_tabs", on_change="rerun")  # only the open tab is computed


@st.fragment
def _history() -> None:
    """Saved calls: comparing two or picking one to export redraws only this tab."""
    if history.empty:
        st.caption(f"No calls saved for {view.period.label} in this view yet.")
        return
    figure = go.Figure()
    figure.add_scatter(x=history.saved_at, y=history.in_blood, name="In-blood",
                       mode="lines+markers")
    figure.add_scatter(x=history.saved_at, y=history.in_blood + history.upside,
                       name="In-blood + upside", mode="lines+markers", line_dash="dot")
    figure.update_layout(yaxis_tickprefix="$", height=300, legend_orientation="h",
                         margin=dict(t=10))
    st.plotly_chart(figure, width="stretch")
    widgets.table(history[["call_id", "call_date", "saved_at", "saved_by", "note", "in_blood",
                           "upside", "included_deals", "deals"]],
                  f"calls-{view.period.label}.csv", in_blood=widgets.money_column("In-blood"),
                  upside=widgets.money_column("Upside"))
    labels = {row.call_id: f"{row.saved_at:%d %b %H:%M} · {row.saved_by} · "
                           f"{fmt.money(row.in_blood)}" for row in history.itertuples()}
    ids = list(labels)
    if len(ids) > 1:
        left, right = st.columns(2)
        before = left.selectbox("Compare call", ids, index=len(ids) - 2, format_func=labels.get)
        after = right.selectbox("with call", ids, index=len(ids) - 1, format_func=labels.get)
        diff = call_diff(before, after)
        st.caption(f"{len(diff):,} deals flipped or moved between the two calls")
        widgets.table(diff, f"call-diff-{before}-{after}.csv",
                      amount_before=widgets.money_column("Amount before"),
                      amount_after=widgets.money_column("Amount after"))
    chosen = st.selectbox("Export a saved call", ids, index=len(ids) - 1,
                          format_func=labels.get)
    summary_row = history[history.call_id == chosen]
    left, right = st.columns(2)
    left.download_button("Call as CSV", lambda: csv_bytes(call_export(chosen)),
                         file_name=f"call-{chosen}.csv", mime="text/csv")
    right.download_button(
        "Call as XLSX", lambda: xlsx_bytes({"Summary": summary_row,
                                            "Decisions": call_export(chosen),
                                            "Follow-ups": follow_ups_of_call(chosen)}),
        file_name=f"call-{chosen}.xlsx", mime=XLSX_MIME)


def _gone() -> None:
    if call_id is None:
        st.caption("No saved call to compare with yet.")
        return
    gone = gone_since_call(view, call_id)
    if gone.empty:
        st.caption("Every deal the last call decided on is still on the board.")
        return
    st.caption(f"{len(gone):,} deals the last call decided on have left the board since: "
               "what became of them.")
    widgets.table(gone, f"gone-since-call-{call_id}.csv",
                  amount_at_call=widgets.money_column("Amount at call"),
                  amount_now=widgets.money_column("Amount now"))


def _accuracy() -> None:
    result = track_record(view, settings)
    table = result.frame.dropna(subset=["error"])
    if table.empty:
        st.caption("No completed periods with outcomes yet for this view.")
        return
    figure = go.Figure()
    for (period, method), part in table.groupby(["period", "method"]):
        call = method == backtest.SAVED_CALLS
        figure.add_scatter(x=part.week, y=part.error,
                           name=f"{period} {backtest.METHOD_LABELS[method]}",
                           mode="lines+markers" if call else "lines",
                           line_dash="solid" if call else "dot")
    figure.add_hline(y=0.0, line_color="grey", annotation_text="what actually closed")
    figure.update_layout(xaxis_title="Week of the period (seen from its first day)",
                         yaxis_title="In-blood against actual", yaxis_tickformat="+.0%",
                         height=360, margin=dict(t=10))
    st.plotly_chart(figure, width="stretch")
    by_week = backtest.error_by_week(result)
    st.caption("Average distance from the outcome by week of the period (lower is better): "
               "saved calls against the default rules.")
    widgets.table(by_week, "accuracy-by-week.csv", week="Week",
                  **{m: widgets.percent_column(backtest.METHOD_LABELS[m])
                     for m in by_week.columns if m != "week"})
    st.page_link("pages/forecast_accuracy.py", icon=":material/model_training:",
                 label="Forecast accuracy: saved calls against every other forecast method, "
                       "week by week and by segment")


for tab, draw in ((history_tab, _history), (gone_tab, _gone), (accuracy_tab, _accuracy)):
    if tab.open:
        with tab:
            draw()
