using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Integrity;
using Vmm.Plugins.Tdx.Li;

namespace Vmm.Plugins.Tdx.Ci;

/// <summary>
/// tdx-ci: TDX with cryptographic integrity. Each line stores the owner bit and a 28-bit MAC (platform
/// key, KeyID-carrying address as tweak, owner bit); any bit flip, host write or wrong-key write is
/// caught on the TD's next read, which poisons the line (H3–H6).
/// </summary>
public sealed class TdxCiMemoryController(TdxOptions options, IPhysicalMemory memory, ICostLedger ledger)
    : IntegrityMemoryController(IntegrityMode.Ci, TdxKeys.Layout(options), CreateMac(options), options.PartialWriteErratum, TdxKeys.Allocator(options), memory, ledger)
{
    internal static ILineMac CreateMac(TdxOptions options)
    {
        var key = LineMacs.ParseKey(options.MacKey, "tdx.macKey");
        return options.Mac switch
        {
            "aes" => new AesLineMac(key),
            "sha3" => new Sha3LineMac(key),
            _ => throw new ComponentOptionsException(LineMacs.NameProblem(options.Mac)!, "tdx.mac"),
        };
    }
}
