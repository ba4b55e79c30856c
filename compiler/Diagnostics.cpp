#include "compiler/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

namespace resa {

std::string describeLocation(mlir::Location loc) {
  if (auto n = mlir::dyn_cast<mlir::NameLoc>(loc))
    return "node '" + n.getName().str() + "'";
  if (auto f = mlir::dyn_cast<mlir::FileLineColLoc>(loc))
    return f.getFilename().str();
  if (auto f = mlir::dyn_cast<mlir::FusedLoc>(loc))
    if (!f.getLocations().empty())
      return describeLocation(f.getLocations().front());
  return "";
}

OneLineDiagnostics::OneLineDiagnostics(mlir::MLIRContext &ctx, std::string tool) : ctx_(ctx) {
  id_ = ctx.getDiagEngine().registerHandler([this, tool](mlir::Diagnostic &d) {
    const char *kind = d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
                       : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                              : "note";
    hadError_ |= d.getSeverity() == mlir::DiagnosticSeverity::Error;
    std::string where = describeLocation(d.getLocation());
    llvm::errs() << tool << ": " << kind << ": " << (where.empty() ? "" : where + ": ")
                 << d.str() << "\n";
    return mlir::success();
  });
}

OneLineDiagnostics::~OneLineDiagnostics() { ctx_.getDiagEngine().eraseHandler(id_); }

} // namespace resa
