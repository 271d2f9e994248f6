"""The load harness speaks Streamlit's protocol for real: a session sees the app's pages and
filters, a filter it sends changes what the page shows, and an exception on a page counts as
an error rather than a fast render."""

import asyncio
import shutil

from bench import load
from bench.load import RenderError, Session


class _Reading(Session):
    """A session that also keeps the tiles a render drew."""

    def _read_delta(self, delta):
        if delta.WhichOneof("type") == "new_element" and \
                delta.new_element.WhichOneof("type") == "metric":
            metric = delta.new_element.metric
            self.tiles[metric.label] = metric.body
        return super()._read_delta(delta)


def _tiles(url: str, steps: list[tuple[str, dict]]) -> list[dict]:
    async def run() -> list[dict]:
        session = _Reading(url)
        session.tiles = {}
        await session.open()
        await session.render("")
        seen = []
        for page, filters in steps:
            session.tiles = {}
            await session.render(page, filters)
            seen.append(dict(session.tiles))
        await session.close()
        return seen

    return asyncio.run(run())


def test_a_session_sees_pages_filters_and_what_a_filter_changes(demo_db, tmp_path):
    database = tmp_path / "demo.duckdb"  # a page test in this process may hold the shared file
    shutil.copyfile(demo_db, database)
    with load.serving(database) as server:
        probe = _Reading(server.url)

        async def learn() -> None:
            probe.tiles = {}
            await probe.open()
            await probe.render("")
            await probe.close()

        asyncio.run(learn())
        assert {"inblood", "forecast_call", "coverage"} <= set(probe.pages)
        assert set(probe.widgets) >= {"segment", "region", "team", "owner", "type", "channel"}
        segments = probe.widgets["segment"][1]
        everything, one, again = _tiles(server.url, [("", {}), ("", {"segment": segments[:1]}),
                                                      ("", {})])
        assert everything["Closed won"] and everything == again
        assert one["Closed won"] != everything["Closed won"]
        assert server.peak_rss_mb() > 0


class _Wire:
    """The server's side of a socket, replaying ForwardMsgs; then the connection drops."""

    def __init__(self, messages):
        self.messages = [m.SerializeToString() for m in messages]

    async def send(self, data):
        pass

    async def recv(self):
        from websockets.exceptions import ConnectionClosedError

        if not self.messages:
            raise ConnectionClosedError(None, None)
        return self.messages.pop(0)


def _render_over(messages) -> str:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    session = Session("http://unused")
    session.socket = _Wire([ForwardMsg(**m) if isinstance(m, dict) else m for m in messages])
    try:
        asyncio.run(session.render(""))
    except RenderError as error:
        return str(error)
    return "rendered"


def test_an_exception_shown_or_a_dropped_connection_is_an_error():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    shown = ForwardMsg()
    shown.delta.new_element.exception.message = "boom"
    finished = ForwardMsg(script_finished=ForwardMsg.FINISHED_SUCCESSFULLY)
    assert _render_over([shown, finished]) == "page exception: boom"
    assert _render_over([finished]) == "rendered"
    assert _render_over([]).startswith("connection dropped")
    # A run replaced by the rerun we asked for is not the end of the render.
    early = ForwardMsg(script_finished=ForwardMsg.FINISHED_EARLY_FOR_RERUN)
    assert _render_over([early]).startswith("connection dropped")


def test_personas_keep_a_handful_of_views():
    options = {"team": ["A", "B"], "segment": ["SMB", "Enterprise"], "region": ["EMEA"]}
    views = load.persona_views(1, options)
    # Everything, their team, their segment, their region, and their team in their segment.
    assert views == [{}, {"team": ["B"]}, {"segment": ["Enterprise"]}, {"region": ["EMEA"]},
                     {"team": ["B"], "segment": ["Enterprise"]}]
    assert load.persona_views(0, {}) == [{}]
