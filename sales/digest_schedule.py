"""The lines that schedule the digest and the reminders: a crontab and a systemd service and
timer, with the delivery settings in an environment file (mode 600), never on the command line."""

from __future__ import annotations

import shlex


def schedule(root: str, database: str, python: str = ".venv/bin/python",
             env_file: str = "/etc/sales-forecast/delivery.env") -> dict[str, str]:
    """Monday 07:00 the digest to every grant; hourly the reminders (each goes once, in the
    hours before the call is due)."""
    db = shlex.quote(database)
    prefix = f"cd {shlex.quote(root)} && set -a && . {shlex.quote(env_file)} && set +a && "
    cron = "\n".join([
        f"0 7 * * 1 {prefix}{python} -m sales digest --all-grants --db {db} "
        ">> digest.log 2>&1",
        f"0 * * * * {prefix}{python} -m sales reminders --db {db} >> reminders.log 2>&1"])
    service = "\n".join([
        "[Unit]", "Description=Sales forecast: the Monday digest", "",
        "[Service]", "Type=oneshot", f"WorkingDirectory={root}", f"EnvironmentFile={env_file}",
        f"ExecStart={root}/{python} -m sales digest --all-grants --db {database}"])
    timer = "\n".join([
        "[Unit]", "Description=Sales forecast: the digest every Monday morning", "",
        "[Timer]", "OnCalendar=Mon *-*-* 07:00", "Persistent=true", "",
        "[Install]", "WantedBy=timers.target"])
    return {"cron": cron, "service": service, "timer": timer}
