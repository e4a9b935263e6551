"""Streamlit helpers the pages share (the only code outside `views/` and `app.py` that imports Streamlit).

Owns: `ui` (current user, `require_role`, study picker, escaped Markdown for model and user text),
`rubric_form` (the expert rubric inputs), `session_cookie` (hand-over of the staff session to an HttpOnly cookie),
`launch_panel` (the launch check and previews on Study settings), `plan_tab` (power before paying).
Imports: `oversight` and `storage`; `oversight` and `storage` never import `web` or Streamlit.
"""
