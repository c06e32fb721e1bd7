using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison;

/// <summary>The seed design: private pages become hwpoisoned and unmapped from the VMM.</summary>
public sealed class HwPoisonPlugin : IVmmPlugin
{
    public string Name => "HwPoison";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IPrivateMemoryPolicy, HwPoisonV1Policy, HwPoisonOptions>(ComponentKind.Policy, "hwpoison-v1",
            "RFC v1 (2021-04-02): private pages get PG_hwpoison and hwpoison entries in the VMM; no ownership, share only (P-hwpoison-v1).",
            (run, options) => new HwPoisonV1Policy(options, HwPoisonServices.From(run)), HwPoisonOptions.Section);
        services.AddVmmComponent<IPrivateMemoryPolicy, HwPoisonV2Policy, HwPoisonOptions>(ComponentKind.Policy, "hwpoison-v2",
            "RFC v2 (2021-04-16): as v1 plus an owner map, FOLL_ALLOW_POISONED for KVM, unpoison on share and on free (P-hwpoison-v2).",
            (run, options) => new HwPoisonV2Policy(options, HwPoisonServices.From(run)), HwPoisonOptions.Section);
    }
}
