"""What Asterisk 22 modules need, for the checks of docker/asterisk/modules.conf.

Read from the Asterisk source (asterisk/asterisk, tag 22.9.0: each module's MODULEINFO, its
``.requires`` and the configuration files it opens) for the modules the Dockerfile's build
builds (menuselect defaults with libedit, jansson, sqlite3, openssl, libxml2, uuid and srtp; no
curl, ODBC, PostgreSQL, LDAP, DAHDI, speex...). Confirmed against what a real Asterisk 22.10.1
logged at start (issue #12, item 6), and by booting Asterisk 22.10.1 built from source (menuselect
defaults) with this folder's files, with and without the samples: no WARNING or ERROR.
"""

from __future__ import annotations

# Files Asterisk's core reads at start; a missing one logs a WARNING or an ERROR
# ("Unable to load config file 'cdr.conf'", "Can't find indications config file"...).
CORE_CONFIG = {
    "asterisk.conf", "modules.conf", "logger.conf", "manager.conf",
    "cdr.conf",         # main/cdr.c (config framework: ERROR when missing)
    "cel.conf",         # main/cel.c
    "features.conf",    # main/features_config.c
    "acl.conf",         # main/named_acl.c
    "udptl.conf",       # main/udptl.c
    "stasis.conf",      # main/stasis.c
    "ccss.conf",        # main/ccss.c (WARNING "Could not find valid ccss.conf")
    "indications.conf",  # main/indications.c
    "pjproject.conf",   # main/asterisk.c [startup]
}

# module -> the configuration file it needs: without it the module logs an ERROR or WARNING and,
# for most, declines to load (then the loader adds "Some non-required modules failed to load").
MODULE_CONFIG = {
    "pbx_config": "extensions.conf",
    "app_queue": "queues.conf",
    "res_musiconhold": "musiconhold.conf",
    "res_pjsip": "pjsip.conf",
    "res_pjproject": "pjproject.conf",
    "res_pjsip_config_wizard": "pjsip_wizard.conf",
    "res_pjsip_notify": "pjsip_notify.conf",
    "res_rtp_asterisk": "rtp.conf",
    "res_ari": "ari.conf",
    "res_websocket_client": "websocket_client.conf",
    "chan_websocket": "chan_websocket.conf",
    "app_voicemail": "voicemail.conf",
    "app_directory": "voicemail.conf",
    "cdr_csv": "cdr.conf",
    "res_geolocation": "geolocation.conf",  # res_sorcery_config ERROR (twice) when missing
    "cel_manager": "cel.conf",
    "cdr_custom": "cdr_custom.conf",       # declines even with the sample (no mapping)
    "cel_custom": "cel_custom.conf",       # the same
    "cdr_manager": "cdr_manager.conf",
    "cdr_sqlite3_custom": "cdr_sqlite3_custom.conf",
    "cel_sqlite3_custom": "cel_sqlite3_custom.conf",
    "res_config_sqlite3": "res_config_sqlite3.conf",
    "app_confbridge": "confbridge.conf",
    "res_parking": "res_parking.conf",
    "app_agent_pool": "agents.conf",
    "res_prometheus": "prometheus.conf",
    "res_statsd": "statsd.conf",
    "res_fax": "res_fax.conf",
    "res_aeap": "aeap.conf",
    "res_stun_monitor": "res_stun_monitor.conf",
    "res_clialiases": "cli_aliases.conf",
    "app_alarmreceiver": "alarmreceiver.conf",
    "app_amd": "amd.conf",
    "app_followme": "followme.conf",
    "app_minivm": "minivm.conf",
    "app_audiosocket": "audiosocket.conf",
    "app_sla": "sla.conf",
    "app_festival": "festival.conf",
    "chan_iax2": "iax.conf",
    "chan_unistim": "unistim.conf",
    "pbx_dundi": "dundi.conf",
    "res_calendar": "calendar.conf",
    "res_hep": "hep.conf",
    "res_phoneprov": "phoneprov.conf",
    "res_smdi": "smdi.conf",
}

# module -> (file, section): the file alone is not enough, the module declines to load unless the
# section is there (cdr_csv: "if (!(v = ast_variable_browse(cfg, "csv"))) return 0" in
# cdr/cdr_csv.c; seen on a real Asterisk 22.10.1 with this folder's cdr.conf, which has none).
MODULE_SECTION = {
    "cdr_csv": ("cdr.conf", "csv"),
}

# Modules that log "has been loaded but may be removed in a future release" (support level
# deprecated), and the modules that depend on them.
DEPRECATED = {"res_adsi", "app_adsiprog", "app_getcpeid"}

# module -> built modules that require it (a dependent of a module that is not loaded fails to
# load: "Error loading module ..., missing dependency").
DEPENDENTS = {
    "app_confbridge": {"app_page", "app_sla"},
    "res_adsi": {"app_adsiprog", "app_getcpeid"},
    "res_aeap": {"res_speech_aeap"},
    "res_cdrel_custom": {"cdr_custom", "cdr_sqlite3_custom", "cel_custom", "cel_sqlite3_custom"},
    "res_hep": {"res_hep_pjsip", "res_hep_rtcp"},
    "res_phoneprov": {"res_pjsip_phoneprov_provider"},
    "res_stasis": {"res_ari", "app_stasis", "res_stasis_answer", "res_stasis_device_state",
                   "res_stasis_playback", "res_stasis_recording", "res_stasis_snoop"},
    "res_ari": {"app_stasis", "res_ari_applications", "res_ari_asterisk", "res_ari_bridges",
                "res_ari_channels", "res_ari_device_states", "res_ari_endpoints", "res_ari_events",
                "res_ari_playbacks", "res_ari_recordings", "res_ari_sounds"},
    "res_websocket_client": {"res_ari", "chan_websocket"},
    "res_pjsip": {"chan_pjsip", "res_prometheus"},
}

# What the issue saw a real Asterisk 22.10.1 complain about: none of these may load.
REPORTED_NOISY = {"res_adsi", "app_adsiprog", "app_getcpeid", "cel_custom", "cdr_custom",
                  "app_confbridge", "res_parking", "app_agent_pool", "res_prometheus"}
# Booted for real (22.10.1 from source, menuselect defaults), these rules had missed two: cdr_csv
# (MODULE_SECTION) and res_geolocation (MODULE_CONFIG); fixed, the boot logs no WARNING or ERROR.
