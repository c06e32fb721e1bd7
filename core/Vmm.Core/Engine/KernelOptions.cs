using Vmm.Abstractions;

namespace Vmm.Core.Engine;

/// <summary>Host kernel sysctls, bound from `options` keys "linux.*".</summary>
public sealed class KernelOptions
{
    public const string Section = "linux";

    [Option("vm.memory_failure_early_kill: every process mapping a failed page gets SIGBUS BUS_MCEERR_AO at once (K12).")]
    public bool EarlyKill { get; set; }

    [Option("vm.memory_failure_recovery: when false, memory_failure() panics the host (K18).")]
    public bool Recovery { get; set; } = true;
}
