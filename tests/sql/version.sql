select clap_version();
