/*
** sql/schema.sql built into the binary as the NUL-terminated string
** clap_schema_sql (declared in db.c), so `clap init` needs no file at run
** time and the schema cannot drift from the build. The path is relative to
** the repository root, where make runs the assembler. The Makefile rule
** "$(BUILD)/pipeline/schema_sql.o: sql/schema.sql" rebuilds this object when
** the schema changes (.incbin is invisible to -MMD).
*/
        .section .rodata
        .global clap_schema_sql
        .type   clap_schema_sql, @object
        .balign 16
clap_schema_sql:
        .incbin "sql/schema.sql"
        .byte   0
        .size   clap_schema_sql, . - clap_schema_sql

        .section .note.GNU-stack,"",@progbits
