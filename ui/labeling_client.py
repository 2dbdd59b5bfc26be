"""The labeling routes of the REST API, as methods on the UI's HTTP client.

client = LabelingClient("http://127.0.0.1:7860", token)
item = client.next_item(campaign_id)           # None when nothing is left for this labeler
client.submit(campaign_id, item["assignment_id"], {"choice": "A"}, seconds=4.2)
"""

from __future__ import annotations

from ui.client import AfinaClient


class LabelingClient(AfinaClient):
    def list_campaigns(self) -> list[dict]:
        return self._request("GET", "/api/labeling/campaigns")

    def get_campaign(self, campaign_id: int) -> dict:
        return self._request("GET", f"/api/labeling/campaigns/{campaign_id}")

    def next_item(self, campaign_id: int) -> dict | None:
        return self._request("POST", f"/api/labeling/campaigns/{campaign_id}/next")

    def submit(self, campaign_id: int, assignment_id: int, answer: dict, *, flags=None, seconds=None) -> dict:
        body = {"answer": answer, "flags": flags or {}, "seconds": seconds}
        path = f"/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/submit"
        return self._request("POST", path, json=body)

    def save_draft(
        self, campaign_id: int, assignment_id: int, answer: dict, *, flags=None, seconds=None
    ) -> dict:
        body = {"answer": answer, "flags": flags or {}, "seconds": seconds}
        path = f"/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/draft"
        return self._request("PUT", path, json=body)

    def skip(self, campaign_id: int, assignment_id: int) -> None:
        self._request("POST", f"/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/skip")

    def quality(self, campaign_id: int) -> dict:
        return self._request("GET", f"/api/labeling/campaigns/{campaign_id}/quality")
