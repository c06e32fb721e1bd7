using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Li;
using Vmm.Plugins.Tdx.Mktme;

namespace Vmm.Plugins.Tdx;

/// <summary>Intel TME-MK and TDX memory controllers.</summary>
public sealed class TdxPlugin : IVmmPlugin
{
    public string Name => "Tdx";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IMemoryController, MktmeMemoryController, MktmeOptions>(ComponentKind.Memory, "mktme",
            "TME-MK without integrity: per-VM KeyIDs; a wrong-key read returns garbage, never poison (H2).", MktmeOptions.Section);
        services.AddVmmComponent<IMemoryController, TdxLiMemoryController, TdxOptions>(ComponentKind.Memory, "tdx-li",
            "TDX logical integrity: a TD-owner bit per 64-byte line; host reads of TD lines see zeros, TD reads after host writes poison (H3-H6, H9-H11).", TdxOptions.Section);
        services.AddVmmComponent<IMemoryController, TdxCiMemoryController, TdxOptions>(ComponentKind.Memory, "tdx-ci",
            "TDX cryptographic integrity: owner bit plus a 28-bit MAC per line; any flip or foreign write is caught on the TD's next read (H3-H6, H9-H11).", TdxOptions.Section);
    }
}
