/*
 * err.c -- the error table's accessors (layer L0).  No state.
 */
#include "err.h"

struct err_info {
    const char *msg;
    enum pp_err_class cls;
    int exit_code;
};

static const struct err_info table[] = {
#define PP_X_INFO(name, cls, code, msg) {msg, cls, code},
    PP_ERRORS(PP_X_INFO)
#undef PP_X_INFO
};

static const struct err_info *
lookup(int err)
{
    int i = err - PP_ERR_FIRST_ - 1;
    if (i < 0 || i >= (int)(sizeof(table) / sizeof(table[0])))
        return &table[0];
    return &table[i];
}

const char *
pp_strerror(int err)
{
    return err == 0 ? "success" : lookup(err)->msg;
}

enum pp_err_class
pp_err_class(int err)
{
    return lookup(err)->cls;
}

int
pp_err_exit_code(int err)
{
    return err == 0 ? 0 : lookup(err)->exit_code;
}
