using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Integrity;
using Vmm.Plugins.Tdx.KeyIds;

namespace Vmm.Plugins.Tdx.Mktme;

/// <summary>
/// mktme: TME-MK encryption without integrity. Each protected VM gets a shared MKTME KeyID; a read with
/// another KeyID than the line was written with returns deterministic garbage, never poison (H2).
/// </summary>
public sealed class MktmeMemoryController(MktmeOptions options, IPhysicalMemory memory, ICostLedger ledger)
    : IntegrityMemoryController(IntegrityMode.None, LayoutOf(options), mac: null, partialWriteErratum: false, Keys(options), memory, ledger)
{
    private static KeyIdLayout LayoutOf(MktmeOptions o) => new(o.KeyIdBits, o.PrivateKeyIds, o.PhysicalAddressBits, MktmeOptions.Section);

    private static KeyIdAllocator Keys(MktmeOptions o)
    {
        var layout = LayoutOf(o);
        // MKTME KeyIDs sit below the TDX range: more of them come from more KeyID bits, not more private KeyIDs.
        return new KeyIdAllocator(1, layout.FirstPrivate, "mktme.keyIdBits");
    }
}
