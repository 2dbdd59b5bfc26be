"""The Datasets tab: lays its parts out in order and wires what crosses them (the list, the version picker).

Each part is a module with its handlers, a build_<part>() that returns its components by name, and the wiring
of its own events; handlers return {component: update} so no output is known by its position.
"""

from __future__ import annotations

import gradio as gr

from ui.tabs.datasets import clean, export, listing, profile, rows, template, upload, versions
from ui.tabs.datasets.shared import model_choices, version_context


def build_datasets_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Datasets", id="datasets", elem_id="tab-datasets") as tab:
        upload_panel = upload.build_upload()
        listing_panel = listing.build_listing()
        with gr.Tabs(elem_id="dataset-tools"):
            rows_panel = rows.build_rows()
            versions_panel = versions.build_versions()
            clean_panel = clean.build_clean()
            profile_panel = profile.build_profile()
            template_panel = template.build_template()
            export_panel = export.build_export()
        # The id of a version an upload or a cleaning step just made, for the list to select it. Inside the
        # tab: anything placed directly in a gr.Tabs becomes a phantom tab.
        new_version = gr.State(None)

    version = listing_panel.version

    def _refresh(token_value: str, selected: int | None = None, current: int | None = None) -> dict:
        return listing.reload_listing(listing_panel, api_url, token_value, selected, current)

    def _models(token_value: str, profile_id: int | None, template_id: int | None) -> dict:
        choices = model_choices(api_url, token_value)
        ids = [mid for _, mid in choices]

        def pick(current: int | None) -> gr.Dropdown:
            return gr.Dropdown(
                choices=choices, value=current if current in ids else (ids[0] if ids else None)
            )

        return {profile_panel.model: pick(profile_id), template_panel.model: pick(template_id)}

    def _context(token_value: str, version_id: int | None) -> dict:
        """Everything under the picker that belongs to one version: lineage, stored profile; stale results
        go."""
        selected, dataset, message = version_context(api_url, token_value, version_id)
        return {
            **versions.show_versions(versions_panel, selected, dataset, version_id, message),
            **profile.show_profile(profile_panel, *profile.profile_view((selected or {}).get("profile"))),
            **template.cleared_template(template_panel),
            **export.cleared_export(export_panel),
        }

    refreshed = listing_panel.outputs
    models_wiring = {
        "fn": _models,
        "inputs": [token, profile_panel.model, template_panel.model],
        "outputs": [profile_panel.model, template_panel.model],
    }
    token.change(_refresh, inputs=token, outputs=refreshed)
    token.change(**models_wiring)
    tab.select(_refresh, inputs=[token, version], outputs=refreshed)
    tab.select(**models_wiring)
    listing_panel.refresh.click(_refresh, inputs=[token, version], outputs=refreshed)

    upload.wire_upload(upload_panel, api_url, token, new_version).then(
        _refresh, inputs=[token, new_version, version], outputs=refreshed
    )
    rows.wire_rows(rows_panel, api_url, token, version)
    version.change(
        _context,
        inputs=[token, version],
        outputs=[
            *versions_panel.outputs,
            *profile_panel.outputs,
            *template_panel.outputs,
            *export_panel.outputs,
        ],
    )
    clean.wire_clean(clean_panel, api_url, token, version, new_version).then(
        _refresh, inputs=[token, new_version, version], outputs=refreshed
    )
    profile.wire_profile(profile_panel, api_url, token, version)
    template.wire_template(template_panel, api_url, token, version)
    export.wire_export(export_panel, api_url, token, version)
    return tab
