using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Plugins.GuestMemfd;

/// <summary>Upstream's answer to the 2021 RFC: private memory in a guest_memfd the VMM never maps.</summary>
public sealed class GuestMemfdPlugin : IVmmPlugin
{
    public string Name => "GuestMemfd";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IPrivateMemoryPolicy, GuestMemfdPolicy, GuestMemfdOptions>(ComponentKind.Policy, "guest-memfd",
            "Linux 6.8+: private memory in a guest_memfd bound to one VM and never mapped in the VMM; per-gfn attributes, MEMORY_FAULT exits (P-guest-memfd).",
            (run, options) => new GuestMemfdPolicy(options, run.GetRequiredService<IVmmMemory>(), run.GetRequiredService<IKernelLog>()), GuestMemfdOptions.Section);
    }
}
