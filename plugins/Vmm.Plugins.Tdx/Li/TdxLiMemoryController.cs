using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Integrity;
using Vmm.Plugins.Tdx.KeyIds;

namespace Vmm.Plugins.Tdx.Li;

/// <summary>
/// tdx-li: TDX with logical integrity. One TD-owner bit per 64-byte line: set by private-KeyID writes,
/// cleared by shared ones; a TD read of a line whose bit is clear poisons it (H3–H6). Data bit flips
/// go unnoticed; only owner-bit changes are detected.
/// </summary>
public sealed class TdxLiMemoryController(TdxOptions options, IPhysicalMemory memory, ICostLedger ledger)
    : IntegrityMemoryController(IntegrityMode.Li, TdxKeys.Layout(options), mac: null, options.PartialWriteErratum, TdxKeys.Allocator(options), memory, ledger);

internal static class TdxKeys
{
    public static KeyIdLayout Layout(TdxOptions o) => new(o.KeyIdBits, o.PrivateKeyIds, o.PhysicalAddressBits);

    public static KeyIdAllocator Allocator(TdxOptions o)
    {
        var layout = Layout(o);
        if (layout.PrivateKeyIds == 0) throw new Vmm.Abstractions.ComponentOptionsException(TdxOptions.NoPrivateKeyIds, "tdx.privateKeyIds");
        return new KeyIdAllocator(layout.FirstPrivate, layout.KeyIdCount, "tdx.privateKeyIds");
    }
}
