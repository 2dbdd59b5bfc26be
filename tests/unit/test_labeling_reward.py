"""A reward model in a labeling campaign, without workers: attaching one (who may, which jobs), the margin
arithmetic, the queue handing out the smallest margin first on hand-made scores, and the held-out accuracy of
reward jobs trained from the campaign next to the human agreement ceiling."""

from __future__ import annotations

import pytest

from backend.db import session_scope
from backend.models.jobs import Job, JobMetric, JobStatus
from backend.models.labeling import LabelingCampaign
from backend.models.ownership import Visibility
from backend.services import labeling_rm
from tests.unit.test_labeling_api import _campaign, _label_all, labelers  # noqa: F401 - fixture


def _job(settings, model_id: int, method: str = "reward", status=JobStatus.succeeded, **fields) -> int:
    with session_scope(settings.database_url) as session:
        job = Job(
            name=f"{method}-job",
            method=method,
            status=status,
            spec={"method": method, "chat_template": "model"},
            base_model_id=model_id,
            datasets=fields.pop("datasets", []),
            output_path="jobs/rm",
            visibility=fields.pop(
                "visibility", Visibility.shared
            ),  # another engineer's, shared with the studio
            **fields,
        )
        session.add(job)
        session.commit()
        return job.id


def _items(api, cid: int) -> list[dict]:
    return api.get(f"/api/labeling/campaigns/{cid}/items").json()


def test_margin_is_best_minus_second_best():
    assert labeling_rm.margin([0.1, 0.9, 0.5]) == pytest.approx(0.4)
    assert labeling_rm.margin([2.0, -1.0]) == pytest.approx(3.0)  # pairwise: the absolute difference
    assert labeling_rm.margin([-1.0, 2.0]) == pytest.approx(3.0)
    assert labeling_rm.margin([1.0, 1.0, 0.0]) == 0.0  # a tie at the top is the most uncertain
    assert labeling_rm.margin([1.0]) is None and labeling_rm.margin([]) is None


def test_attaching_a_reward_model_names_the_field_and_is_for_engineers(api, labelers, settings):  # noqa: F811
    campaign = _campaign(api, n=2)
    url = f"/api/labeling/campaigns/{campaign['id']}"
    dpo = _job(settings, api.model_id, method="dpo")
    queued = _job(settings, api.model_id, status=JobStatus.queued)
    for job_id in (999, dpo, queued):
        refused = api.patch(url, json={"reward_job_id": job_id})
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"]["field"] == "reward_job_id" and "reward" in refused.json()["message"]
    created = api.post(
        "/api/labeling/campaigns",
        json={"name": "other", "version_id": campaign["source_version_id"], "reward_job_id": dpo},
    )
    assert created.status_code == 422 and created.json()["details"]["field"] == "reward_job_id"
    assert labelers["ann"].patch(url, json={"reward_job_id": None}).status_code == 403
    no_model = api.post(f"{url}/score")
    assert no_model.status_code == 422 and no_model.json()["details"]["field"] == "reward_job_id"


def test_the_queue_hands_out_the_smallest_margin_first(api, labelers, settings):  # noqa: F811
    campaign = _campaign(api, n=5, overlap=1)
    cid = campaign["id"]
    items = _items(api, cid)
    job_id = _job(settings, api.model_id)
    attached = api.patch(f"/api/labeling/campaigns/{cid}", json={"reward_job_id": job_id})
    assert attached.status_code == 200, attached.text
    scoring = attached.json()["reward_scoring"]
    assert attached.json()["reward_job_id"] == job_id
    assert scoring["status"] == "queued" and (scoring["scored"], scoring["candidates"]) == (0, 10)
    # hand-made scores: margins 3.0, 0.1, 1.0, 0.5; the last item stays unscored (it goes last)
    first, second = (
        [(i["candidates"][0]["id"], i["candidates"][1]["id"]) for i in items[:4]],
        [
            (2.0, -1.0),
            (0.3, 0.4),
            (-1.0, 0.0),
            (5.0, 4.5),
        ],
    )
    scores = {
        c: s for ids, values in zip(first, second, strict=True) for c, s in zip(ids, values, strict=True)
    }
    with session_scope(settings.database_url) as session:
        assert not labeling_rm.store_scores(session, cid, job_id + 1000, scores)  # another model: ignored
        assert labeling_rm.store_scores(session, cid, job_id, scores)
    status = api.get(f"/api/labeling/campaigns/{cid}").json()["reward_scoring"]
    assert status["scored"] == 8
    stored = {c["id"]: c["reward_score"] for i in _items(api, cid) for c in i["candidates"]}
    assert all(stored[c] == pytest.approx(s) for c, s in scores.items())
    order = _label_all(api, labelers["ann"], cid)
    ids = [i["id"] for i in items]
    assert order == [ids[1], ids[3], ids[2], ids[0], ids[4]]


def test_detaching_drops_the_scores_and_restores_the_plain_order(api, labelers, settings):  # noqa: F811
    campaign = _campaign(api, n=3, overlap=1)
    cid = campaign["id"]
    items = _items(api, cid)
    job_id = _job(settings, api.model_id)
    attached = api.patch(f"/api/labeling/campaigns/{cid}", json={"reward_job_id": job_id})
    assert attached.status_code == 200
    again = api.post(f"/api/labeling/campaigns/{cid}/score")  # score again (e.g. after items were added)
    assert again.status_code == 202 and again.json()["reward_scoring"]["status"] == "queued"
    assert again.json()["reward_scoring"]["request_id"] > attached.json()["reward_scoring"]["request_id"]
    scores = {i["candidates"][0]["id"]: float(10 - n) for n, i in enumerate(items)}
    scores |= {i["candidates"][1]["id"]: 0.0 for i in items}  # margins 10, 9, 8: reversed order
    with session_scope(settings.database_url) as session:
        labeling_rm.store_scores(session, cid, job_id, scores)
    detached = api.patch(f"/api/labeling/campaigns/{cid}", json={"reward_job_id": None})
    assert detached.status_code == 200 and detached.json()["reward_scoring"] is None
    with session_scope(settings.database_url) as session:
        campaign_row = session.get(LabelingCampaign, cid)
        assert all(i.reward_margin is None for i in campaign_row.items)
        assert all(c.reward_score is None for i in campaign_row.items for c in i.candidates)
    assert _label_all(api, labelers["ann"], cid) == [i["id"] for i in items]


def test_quality_reports_held_out_accuracy_next_to_the_human_ceiling(api, labelers, settings):  # noqa: F811
    campaign = _campaign(api, n=6, overlap=2)
    cid = campaign["id"]
    _label_all(api, labelers["ann"], cid)
    _label_all(api, labelers["bob"], cid)
    assert api.get(f"/api/labeling/campaigns/{cid}/quality").json()["reward_models"] == []
    exported = api.post(f"/api/labeling/campaigns/{cid}/export", json={"kind": "reward"})
    assert exported.status_code == 201, exported.text
    versions = {v["split"]: v for v in exported.json()}
    job_id = _job(
        settings,
        api.model_id,
        datasets=[{"version_id": versions["train"]["id"], "weight": 1.0}],
        eval_dataset_version_id=versions["validation"]["id"],
    )
    unrelated = _job(settings, api.model_id)  # trained on something else: not listed
    with session_scope(settings.database_url) as session:
        session.add_all(
            [
                JobMetric(job_id=job_id, step=2, name="eval_accuracy", value=0.5),
                JobMetric(job_id=job_id, step=4, name="eval_accuracy", value=1.0),
                JobMetric(job_id=job_id, step=4, name="eval_loss", value=0.1),
            ]
        )
        session.commit()
    quality = api.get(f"/api/labeling/campaigns/{cid}/quality").json()
    assert quality["human_ceiling"] == quality["percent_agreement"] == 1.0
    (model,) = quality["reward_models"]
    assert model["job_id"] == job_id and model["job_id"] != unrelated
    assert model["accuracy"] == 1.0 and model["measured_at_step"] == 4
    assert model["held_out_version_id"] == versions["validation"]["id"]
    assert model["held_out_pairs"] == versions["validation"]["row_count"]
