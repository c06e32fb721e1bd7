namespace Vmm.Abstractions;

/// <summary>
/// A private-memory policy component (kind "policy"): one object that implements the role interfaces whose
/// decisions it changes (<see cref="IGuestFaultPolicy"/>, <see cref="IHwPoisonEntryPolicy"/>,
/// <see cref="IVmmMappingPolicy"/>, <see cref="IConversionPolicy"/>, <see cref="IFrameLifecyclePolicy"/>).
/// The kernel resolves each role once per run; a role the policy does not implement keeps the unmodified
/// kernel's behaviour (policy "none" implements none). Hooks are called on the machine's single thread.
/// </summary>
public interface IPrivateMemoryPolicy
{
}
