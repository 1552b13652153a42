"""A protocol-faithful LINE WORKS API 2.0 emulator (HTTPS, SQLite state, control API, faults).

Split like moto: ``routes`` (URL table only), ``protocol`` (parse, call the state, shape the answer),
``state`` (SQLite state and domain rules), ``errors`` (one class per wire error code), ``limits``
(documented limits, each with its source), ``control`` (the ``/_sandbox`` control plane),
``callbacks`` (signed callback sender) and ``scenario`` (seeded demo/test/bench data).
"""
