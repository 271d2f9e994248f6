"""The in-blood board's session state: the manager's changes on top of where the board started.

Changes live in st.session_state per (period, filter scope, as-of, starting call), so two
browser sessions never share unsaved decisions, and a different view starts its own board.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sales.inblood import Change, changes_for
from sales.view import View

# Shown in the Flags column, in this order; each is a boolean column of sales.inblood.board_sql.
FLAG_LABELS = {
    "flag_new": "new since call",
    "flag_changed": "changed since call",
    "flag_commit_risk": "commit risk",
    "flag_pushed": "pushed 2+",
    "flag_past_close": "close date passed",
    "flag_stuck": "stuck in stage",
}


def _key(view: View, call_id: int | None) -> str:
    return f"board|{view.period.label}|{view.filters.scope_key()}|{view.as_of}|{call_id}"


def changes(view: View, call_id: int | None) -> dict[str, Change]:
    """This session's unsaved changes for the board."""
    return st.session_state.setdefault(_key(view, call_id), {})


def editor_key(view: View, call_id: int | None, page_identity: object) -> str:
    """The deal editor's widget key. It names exactly the page of deals on screen (filter,
    page size and number, data version), so an edited row index always means the same deal,
    and a revision that bulk actions bump, so their result is not overwritten by older edits."""
    revision = st.session_state.setdefault(_key(view, call_id) + "|rev", 0)
    return f"{_key(view, call_id)}|editor|{revision}|{hash(page_identity)}"


def new_editor(view: View, call_id: int | None) -> None:
    st.session_state[_key(view, call_id) + "|rev"] = (
        st.session_state.get(_key(view, call_id) + "|rev", 0) + 1)


def apply(view: View, call_id: int | None, members: pd.DataFrame, included: bool | None,
          reason: str = "") -> None:
    """A bulk action: set every member deal to `included` (None: its default)."""
    changes(view, call_id).update(changes_for(members, included, reason))
    new_editor(view, call_id)


def reset_to_start(view: View, call_id: int | None) -> None:
    """Back to where the board started (the last saved call, or the rules)."""
    changes(view, call_id).clear()
    new_editor(view, call_id)


def fold_edits(view: View, call_id: int | None, page: pd.DataFrame, key: str) -> None:
    """Fold the editor's edited cells (Include, Reason) into the session's changes.

    Edits hold absolute values, so folding them again on every run changes nothing; doing it
    at the top of the run means the totals drawn above the editor already count them."""
    board = changes(view, call_id)
    state = st.session_state.get(key) or {}
    for row, edit in state.get("edited_rows", {}).items():
        if int(row) >= len(page):
            continue
        deal = page.iloc[int(row)]
        current = board.get(deal.opportunity_id)
        included = edit.get("Include", current.included if current else bool(deal.start_included))
        start_reason = "" if pd.isna(deal.start_reason) else str(deal.start_reason)
        reason = edit.get("Reason", current.reason if current else start_reason)
        board[deal.opportunity_id] = Change(bool(included), reason or "", float(deal.amount),
                                            deal.category, bool(deal.start_included))


def editor_frame(page: pd.DataFrame, board: dict[str, Change],
                 scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The page of deals as the editor shows it: the current decision, reason and flags, and
    with `scores` (sales.winprob.scores.deal_scores) each deal's win % and its factors."""
    include = [board[i].included if i in board else bool(s)
               for i, s in zip(page.opportunity_id, page.start_included, strict=True)]
    reason = [board[i].reason if i in board else ("" if pd.isna(r) else str(r))
              for i, r in zip(page.opportunity_id, page.start_reason, strict=True)]
    flags = page[list(FLAG_LABELS)].apply(
        lambda row: ", ".join(label for column, label in FLAG_LABELS.items() if row[column]),
        axis=1) if len(page) else pd.Series(dtype="string")
    frame = pd.DataFrame({
        "Include": include, "Reason": reason, "Flags": flags, "Account": page.account_name,
        "Opportunity": page.opportunity_id, "Owner": page.owner, "Category": page.category,
        "Stage": page.stage, "Amount": page.amount, "Close date": page.close_date,
        "Pushes": page.push_count, "Days in stage": page.days_in_stage,
        "Next step": page.next_step,
    })
    if scores is not None and len(scores):
        by_id = scores.set_index("opportunity_id")
        frame.insert(frame.columns.get_loc("Amount") + 1, "Win %",
                     page.opportunity_id.map(by_id["win_probability"]).to_numpy())
        frame.insert(frame.columns.get_loc("Win %") + 1, "Why",
                     page.opportunity_id.map(by_id["why"]).to_numpy())
    return frame
