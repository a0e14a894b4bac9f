# Embeds the text file IN as a C++ string_view constant NAME in header OUT.
file(READ "${IN}" content)
file(WRITE "${OUT}" "// Generated from ${IN}; do not edit.\n#pragma once\n#include <string_view>\nnamespace lakestream {\ninline constexpr std::string_view ${NAME} = R\"lsembed(${content})lsembed\";\n}\n")
