"""The Streamlit entry point: the router (page config, sign-in, services once, navigation, run).

The router lives in ``prompt_playground.ui.router`` because every page file runs it too when
Streamlit runs the page without it (a first request for a page URL; see that module).
"""

from prompt_playground.ui import router

router.run()
