namespace Vmm.Hosting;

/// <summary>A comparison that cannot run as asked (an unknown stack component, workload or option): one message saying what to fix.</summary>
public sealed class ComparisonException(string message, Exception? inner = null) : Exception(message, inner);
