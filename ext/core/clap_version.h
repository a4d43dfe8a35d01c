#ifndef CLAP_VERSION_H
#define CLAP_VERSION_H
#define CLAP_VERSION "0.1.0"
#endif
