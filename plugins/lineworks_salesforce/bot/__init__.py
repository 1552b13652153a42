"""The registration bot: the signed callback endpoint (:mod:`.callback`) and its replay guard."""
