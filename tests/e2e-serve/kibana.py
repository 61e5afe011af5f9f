#!/usr/bin/env python3
"""kibana.py - a test client in the role of Kibana (and the Elasticsearch
connector APIs it calls), writing the documents of protocol.md directly:

  kibana.py --es URL put-connector ID INDEX [--service-type T]
      the document `PUT _connector/ID` makes: status created, empty
      configuration, default filtering, schedules off, service_type null
      unless given
  kibana.py --es URL configure ID key=value...
      `PUT _connector/ID/_configuration` (values form): each value into
      configuration.KEY.value, status configured (OCC)
  kibana.py --es URL sync ID full|incremental
      `POST _connector/_sync_job`: a pending on-demand job with the
      connector snapshot; prints the job id
  kibana.py --es URL cancel JOB
      `POST _connector/_sync_job/JOB/_cancel`
  kibana.py --es URL wait JOB STATUS[,STATUS] [--timeout S]
      poll until the job has one of the statuses; prints the job JSON;
      exit 1 on timeout
  kibana.py --es URL get connector|job ID
  kibana.py --es URL draft ID RULES_JSON [ADVANCED_JSON]
      `PUT _connector/ID/_filtering` (sync rules edited in Kibana): the
      DEFAULT domain's draft gets the rules (order, timestamps; the default
      rule appended last when missing) and the advanced snippet, validation
      state `edited`; the active rules are left alone (OCC)
  kibana.py --es URL schedule ID full|incremental INTERVAL|off [--last ISO]
      `PUT _connector/ID/_scheduling`: enable with a Quartz cron (or off);
      --last sets last_*_scheduled_at (to stage a slot missed while down)
"""
import argparse
import datetime
import json
import sys
import time
import urllib.error
import urllib.request

CONNECTORS = ".elastic-connectors"
JOBS = ".elastic-connectors-sync-jobs"


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def req(es, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(es + path, data=data, method=method,
                               headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def default_filtering():
    t = now()
    rules = {"advanced_snippet": {"value": {}, "created_at": t, "updated_at": t},
             "rules": [{"id": "DEFAULT", "policy": "include", "field": "_", "rule": "regex",
                        "value": ".*", "order": 0, "created_at": t, "updated_at": t}],
             "validation": {"state": "valid", "errors": []}}
    return [{"domain": "DEFAULT", "active": rules, "draft": json.loads(json.dumps(rules))}]


def put_connector(es, cid, index, service_type):
    sched = {"enabled": False, "interval": "0 0 0 * * ?"}
    doc = {"api_key_id": None, "api_key_secret_id": None, "configuration": {},
           "custom_scheduling": {}, "description": None, "error": None, "features": None,
           "filtering": default_filtering(), "index_name": index, "is_native": False,
           "language": None, "last_access_control_sync_error": None,
           "last_access_control_sync_scheduled_at": None, "last_access_control_sync_status": None,
           "last_deleted_document_count": 0, "last_incremental_sync_scheduled_at": None,
           "last_indexed_document_count": 0, "last_seen": None, "last_sync_error": None,
           "last_sync_scheduled_at": None, "last_sync_status": None, "last_synced": None,
           "name": cid, "pipeline": None,
           "scheduling": {"access_control": sched, "full": sched, "incremental": sched},
           "service_type": service_type, "status": "created", "sync_cursor": None}
    st, body = req(es, "PUT", f"/{CONNECTORS}/_doc/{cid}?refresh=true", doc)
    if st not in (200, 201):
        sys.exit(f"put-connector: {st} {body}")


def configure(es, cid, pairs):
    for _ in range(10):
        st, got = req(es, "GET", f"/{CONNECTORS}/_doc/{cid}")
        if st != 200:
            sys.exit(f"configure: {st} {got}")
        conf = got["_source"].get("configuration") or {}
        for p in pairs:
            k, v = p.split("=", 1)
            if v.isdigit():
                v = int(v)
            elif v in ("true", "false"):
                v = v == "true"
            conf.setdefault(k, {})["value"] = v
        st, body = req(es, "POST", f"/{CONNECTORS}/_update/{cid}?refresh=true&if_seq_no="
                       f"{got['_seq_no']}&if_primary_term={got['_primary_term']}",
                       {"doc": {"configuration": conf, "status": "configured"}})
        if st == 200:
            return
        if st != 409:
            sys.exit(f"configure: {st} {body}")
    sys.exit("configure: kept conflicting")


def sync(es, cid, job_type):
    st, got = req(es, "GET", f"/{CONNECTORS}/_doc/{cid}")
    if st != 200:
        sys.exit(f"sync: no connector {cid}")
    c = got["_source"]
    active = next((f["active"] for f in c.get("filtering") or [] if f.get("domain") == "DEFAULT"), None)
    t = now()
    job = {"connector": {"id": cid, "configuration": c.get("configuration"), "filtering": active,
                         "index_name": c.get("index_name"), "language": c.get("language"),
                         "pipeline": c.get("pipeline"), "service_type": c.get("service_type"),
                         "sync_cursor": c.get("sync_cursor")},
           "trigger_method": "on_demand", "job_type": job_type, "status": "pending",
           "indexed_document_count": 0, "indexed_document_volume": 0, "deleted_document_count": 0,
           "total_document_count": 0, "created_at": t, "last_seen": t}
    st, body = req(es, "POST", f"/{JOBS}/_doc?refresh=true", job)
    if st not in (200, 201):
        sys.exit(f"sync: {st} {body}")
    print(body["_id"])


def draft(es, cid, rules_json, advanced_json):
    t = now()
    rules = []
    for i, r in enumerate(json.loads(rules_json)):
        r = dict(r)
        r.setdefault("order", i)
        r.setdefault("created_at", t)
        r.setdefault("updated_at", t)
        rules.append(r)
    if not any(r.get("id") == "DEFAULT" for r in rules):
        rules.append({"id": "DEFAULT", "policy": "include", "field": "_", "rule": "regex",
                      "value": ".*", "order": len(rules), "created_at": t, "updated_at": t})
    adv = json.loads(advanced_json) if advanced_json else {}
    for _ in range(10):
        st, got = req(es, "GET", f"/{CONNECTORS}/_doc/{cid}")
        if st != 200:
            sys.exit(f"draft: {st} {got}")
        filtering = got["_source"].get("filtering") or default_filtering()
        for f in filtering:
            if f.get("domain") == "DEFAULT":
                f["draft"] = {"advanced_snippet": {"value": adv, "created_at": t, "updated_at": t},
                              "rules": rules, "validation": {"state": "edited", "errors": []}}
        st, body = req(es, "POST", f"/{CONNECTORS}/_update/{cid}?refresh=true&if_seq_no="
                       f"{got['_seq_no']}&if_primary_term={got['_primary_term']}",
                       {"doc": {"filtering": filtering}})
        if st == 200:
            return
        if st != 409:
            sys.exit(f"draft: {st} {body}")
    sys.exit("draft: kept conflicting")


def cancel(es, job_id):
    st, got = req(es, "GET", f"/{JOBS}/_doc/{job_id}")
    if st != 200:
        sys.exit(f"cancel: {st}")
    s = got["_source"]["status"]
    t = now()
    if s in ("pending", "suspended"):
        doc = {"status": "canceled", "cancelation_requested_at": t, "canceled_at": t, "completed_at": t}
    elif s == "in_progress":
        doc = {"status": "canceling", "cancelation_requested_at": t}
    else:
        sys.exit(f"cancel: job is {s}")
    st, body = req(es, "POST", f"/{JOBS}/_update/{job_id}?refresh=true", {"doc": doc})
    if st != 200:
        sys.exit(f"cancel: {st} {body}")


def schedule(es, cid, job_type, interval, last):
    doc = {"scheduling": {job_type: {"enabled": interval != "off",
                                     "interval": "0 0 0 * * ?" if interval == "off" else interval}}}
    if last:
        field = "last_sync_scheduled_at" if job_type == "full" else f"last_{job_type}_sync_scheduled_at"
        doc[field] = last
    st, body = req(es, "POST", f"/{CONNECTORS}/_update/{cid}?refresh=true&retry_on_conflict=5", {"doc": doc})
    if st != 200:
        sys.exit(f"schedule: {st} {body}")


def wait(es, job_id, statuses, timeout):
    want = statuses.split(",")
    end = time.time() + timeout
    got = None
    while time.time() < end:
        st, got = req(es, "GET", f"/{JOBS}/_doc/{job_id}")
        if st == 200 and got["_source"].get("status") in want:
            print(json.dumps(got["_source"]))
            return 0
        time.sleep(0.1)
    print(json.dumps(got and got.get("_source")))
    return 1


def main():
    # options by hand: job ids may start with '-', which argparse takes for an option
    opts = {"--es": None, "--service-type": None, "--timeout": "60", "--last": None}
    pos = []
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if not opts["--es"] or not pos:
        sys.exit(__doc__)
    a = argparse.Namespace(es=opts["--es"], service_type=opts["--service-type"],
                           timeout=float(opts["--timeout"]), last=opts["--last"],
                           cmd=pos[0], args=pos[1:])
    if a.cmd == "put-connector":
        put_connector(a.es, a.args[0], a.args[1], a.service_type)
    elif a.cmd == "configure":
        configure(a.es, a.args[0], a.args[1:])
    elif a.cmd == "sync":
        sync(a.es, a.args[0], a.args[1])
    elif a.cmd == "draft":
        draft(a.es, a.args[0], a.args[1], a.args[2] if len(a.args) > 2 else None)
    elif a.cmd == "cancel":
        cancel(a.es, a.args[0])
    elif a.cmd == "wait":
        return wait(a.es, a.args[0], a.args[1], a.timeout)
    elif a.cmd == "schedule":
        schedule(a.es, a.args[0], a.args[1], a.args[2], a.last)
    elif a.cmd == "get":
        index = CONNECTORS if a.args[0] == "connector" else JOBS
        st, got = req(a.es, "GET", f"/{index}/_doc/{a.args[1]}")
        print(json.dumps(got.get("_source") if st == 200 else None))
    else:
        sys.exit(f"unknown command {a.cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
